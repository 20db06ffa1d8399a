using Microsoft.Extensions.Logging;
using ShortcutPipeline.Testing;
using TorchSharp;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>
/// <see cref="WorkerOptions.SamplerThreads"/>: a CPU worker can leave cores to its storing stage. The count is
/// libtorch's, for the whole process, so the test runs alone and puts the count back.
/// </summary>
[Collection(RunsAloneCollection.Name)]
public sealed class SamplerThreadsTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task TheSamplerRunsOnTheThreadsTheSettingGivesAndSaysSo()
    {
        TestPipeline pipeline = await TestModels.PipelineWithTinyAsync(azurite);
        using var modelCache = new TempDirectory("worker-cache-");
        WorkerOptions options = InProcessWorker.TestOptions(modelCache.Path);
        options.SamplerThreads = 1;
        var logs = new TestLoggerProvider();
        int before = torch.get_num_threads();
        try
        {
            using var sampling = new SamplingService(pipeline.Registry, options, logs.CreateLogger<SamplingService>());
            LoadedModel model = await sampling.GetModelAsync("tiny", "v1");

            // libtorch gives a thread its count when that thread first runs a kernel: a thread that did before keeps
            // its own, so the count is read on a new thread, as the worker's sampling threads start after the setting.
            int onANewThread = 0;
            var thread = new Thread(() => onANewThread = torch.get_num_threads());
            thread.Start();
            thread.Join();
            Assert.Equal(1, onANewThread);
            Assert.Contains(logs.Messages, m => m.Message == $"The CPU sampler uses 1 threads of the {Environment.ProcessorCount} cores.");
            using Model.SampleResult result = model.Sampler.Sample([new Model.SampleRequest(0, 2, 1.0, 7)]);
            Assert.Equal(1, result.Samples.shape[0]);
        }
        finally
        {
            torch.set_num_threads(before);
        }
    }

    [Fact]
    public void ANegativeCountIsRefusedByName()
    {
        var options = new WorkerOptions { SamplerThreads = -1 };

        var error = Assert.Throws<InvalidOperationException>(options.Validate);
        Assert.Contains(nameof(WorkerOptions.SamplerThreads), error.Message, StringComparison.Ordinal);
    }
}
