using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Core.Tests.Telemetry;

/// <summary>The tests that read process-wide spans, metrics or standard output run alone.</summary>
[CollectionDefinition(TelemetryCollection.Name, DisableParallelization = true)]
public sealed class TelemetryCollectionDefinition;
