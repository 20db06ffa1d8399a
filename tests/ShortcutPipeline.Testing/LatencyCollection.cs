namespace ShortcutPipeline.Testing;

/// <summary>
/// The xunit collection of tests that compare latencies measured on the wall clock (a 1-step job against a 128-step
/// job's drawing time, say): on two cores, test classes running beside them would starve the worker's storage calls
/// and not its forward passes, so these run with no other test of their assembly at the same time. Each test assembly
/// declares it with <c>[CollectionDefinition(LatencyCollection.Name, DisableParallelization = true)]</c> on a class
/// of its own.
/// </summary>
public static class LatencyCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Latency";
}
