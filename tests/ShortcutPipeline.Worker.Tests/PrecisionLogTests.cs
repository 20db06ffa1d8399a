using Microsoft.Extensions.Logging;
using ShortcutPipeline.Testing;
using TorchSharp;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>The sampling service logs the weight type it loads a model in, and why.</summary>
public sealed class PrecisionLogTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Theory]
    [InlineData(null, torch.ScalarType.Float32, "Float32 (the CPU)")]
    [InlineData(true, torch.ScalarType.BFloat16, "BFloat16 (BFloat16 = true in the settings)")]
    public async Task TheLoadLogLineNamesThePrecisionAndItsReason(bool? bfloat16, torch.ScalarType expected, string logged)
    {
        TestPipeline pipeline = await TestModels.PipelineWithTinyAsync(azurite);
        using var modelCache = new TempDirectory("worker-cache-");
        WorkerOptions options = InProcessWorker.TestOptions(modelCache.Path);
        options.BFloat16 = bfloat16;
        var logger = new RecordingLogger();
        using var sampling = new SamplingService(pipeline.Registry, options, logger);

        LoadedModel model = await sampling.GetModelAsync("tiny", "v1");

        Assert.Equal(expected, sampling.WeightType);
        string loaded = Assert.Single(logger.Lines, line => line.StartsWith("Loaded model tiny v1", StringComparison.Ordinal));
        Assert.EndsWith($"on cpu as {logged}.", loaded, StringComparison.Ordinal);
        Assert.NotNull(model);
    }

    private sealed class RecordingLogger : ILogger<SamplingService>
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Lines)
            {
                Lines.Add(formatter(state, exception));
            }
        }
    }
}
