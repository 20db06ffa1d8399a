using System.Globalization;
using Microsoft.Extensions.Logging;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Core.Tests;

/// <summary>The intake loop outlives a storage outage: it backs off, says so once, and takes the jobs that waited.</summary>
public sealed class JobQueueListenerOutageTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task TheIntakeLoopSurvivesAStorageOutageSaysSoOnceAndTakesTheJobsThatCameMeanwhile()
    {
        TestPipeline direct = await TestPipeline.CreateAsync(azurite);
        await direct.RegisterModelAsync("fashion", "v1");
        using StorageOutage outage = azurite.CreateOutage();
        TestPipeline cut = TestPipeline.Over(outage.Reach(direct.Storage));
        var logs = new TestLoggerProvider();
        var listener = new JobQueueListener(
            cut.Storage, cut.Intake, pollInterval: TimeSpan.FromMilliseconds(100), logger: logs.CreateLogger<JobQueueListener>());
        using var stop = new CancellationTokenSource();
        Task loop = listener.RunAsync(stop.Token);

        await direct.Storage.JobsQueue.SendMessageAsync(Job("before"));
        await WaitUntilQueuedAsync(direct, "before", loop);
        // Its message deleted, the listener is polling an empty queue when the storage goes away.
        await Wait.UntilAsync(
            async () => (await direct.Storage.JobsQueue.GetPropertiesAsync()).Value.ApproximateMessagesCount == 0,
            Wait.Long, () => Task.FromResult("the first job's message was not deleted"));
        outage.Begin();
        // Long enough for the storage clients' own retries to give up several times (each try is one connection).
        await Wait.UntilAsync(() => outage.ResetConnections >= 12 || loop.IsCompleted, Wait.Long, () => $"{outage.ResetConnections} connections reset");
        await direct.Storage.JobsQueue.SendMessageAsync(Job("during"));
        outage.End();

        await WaitUntilQueuedAsync(direct, "during", loop);
        // The round that took it says so once it ends.
        await Wait.UntilAsync(
            () => logs.Messages.Any(m => m.Message.Contains("storage is reachable again", StringComparison.Ordinal)),
            Wait.Long, () => "the end of the outage was not logged");
        Assert.False(loop.IsCompleted, "the intake loop ended");
        IReadOnlyList<LoggedMessage> messages = logs.Messages;
        Assert.Single(messages, m => m.Level == LogLevel.Warning && m.Message.Contains("storage is unreachable", StringComparison.Ordinal));
        Assert.Single(messages, m => m.Message.Contains("storage is reachable again", StringComparison.Ordinal));
        await stop.CancelAsync();
        await loop;
    }

    private static async Task WaitUntilQueuedAsync(TestPipeline pipeline, string jobId, Task loop)
    {
        await Wait.UntilAsync(
            async () => loop.IsCompleted || (await pipeline.Status.GetAsync(jobId))?.State == JobState.Queued,
            Wait.Long, () => Task.FromResult($"job {jobId} was not taken"));
        Assert.False(loop.IsCompleted, $"the intake loop ended before job {jobId} was taken: {loop.Exception?.GetBaseException().Message}");
    }

    private static string Job(string id) => string.Create(CultureInfo.InvariantCulture,
        $$"""{ "id": "{{id}}", "model": { "name": "fashion" }, "classes": [ { "label": 1, "count": 1 } ], "steps": 4 }""");
}
