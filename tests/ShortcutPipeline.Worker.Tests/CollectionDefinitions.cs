using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>The tests that read process-wide spans and metrics run alone.</summary>
[CollectionDefinition(TelemetryCollection.Name, DisableParallelization = true)]
public sealed class TelemetryCollectionDefinition;

/// <summary>The tests that compare wall-clock latencies or change libtorch's thread count run alone.</summary>
[CollectionDefinition(RunsAloneCollection.Name, DisableParallelization = true)]
public sealed class RunsAloneCollectionDefinition;
