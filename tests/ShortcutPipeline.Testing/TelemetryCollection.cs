namespace ShortcutPipeline.Testing;

/// <summary>
/// The xunit collection of tests that read process-wide telemetry (spans and metrics of every test would mix): it runs
/// with no other test of its assembly at the same time. Each test assembly declares it with
/// <c>[CollectionDefinition(TelemetryCollection.Name, DisableParallelization = true)]</c> on a class of its own.
/// </summary>
public static class TelemetryCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Telemetry";
}
