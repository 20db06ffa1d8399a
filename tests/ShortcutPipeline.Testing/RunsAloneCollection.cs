namespace ShortcutPipeline.Testing;

/// <summary>
/// The xunit collection of tests that run with no other test of their assembly at the same time: those that compare
/// latencies measured on the wall clock (on two cores, test classes running beside them would starve the worker's
/// storage calls and not its forward passes) and those that change a process-wide setting (libtorch's thread count).
/// Each test assembly declares it with <c>[CollectionDefinition(RunsAloneCollection.Name, DisableParallelization = true)]</c>
/// on a class of its own.
/// </summary>
public static class RunsAloneCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Runs alone";
}
