using Microsoft.Extensions.Logging;
using ShortcutPipeline.Core.Training;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Trainer.Tests;

/// <summary>The trainer's loop outlives a storage outage: it backs off, says so once, and goes on when storage is back.</summary>
public sealed class OutageTests(AzuriteFixture azurite, ITestOutputHelper output) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task TheLoopSurvivesAStorageOutageSaysSoOnceAndTakesTheRequestThatCameMeanwhile()
    {
        using StorageOutage outage = azurite.CreateOutage();
        using TrainerTestContext context = await TrainerTestContext.CreateAsync(azurite, output, outage);
        using var stop = new CancellationTokenSource();
        Task loop = context.Consumer.RunLoopAsync(stop.Token);

        outage.Begin();
        // Long enough for the storage clients' own retries to give up several times (each try is one connection).
        await Wait.UntilAsync(() => outage.ResetConnections >= 12 || loop.IsCompleted, Wait.Long, () => $"{outage.ResetConnections} connections reset");
        await context.Storage.TrainingQueue.SendMessageAsync(
            """{ "runId": "after-outage", "model": "fashion", "preset": "DiT-Tiny/2", "dataset": "fashion-mnist", "steps": -5 }""");
        outage.End();

        await Wait.UntilAsync(
            async () => loop.IsCompleted || (await context.Training.Runs.GetAsync("after-outage"))?.State == TrainingRunState.Failed,
            Wait.Long, () => Task.FromResult("the request sent during the outage was not taken"));
        // The round that took it says so once it ends.
        await Wait.UntilAsync(
            () => context.Logs.Messages.Any(m => m.Message.Contains("storage is reachable again", StringComparison.Ordinal)),
            Wait.Long, () => "the end of the outage was not logged");
        Assert.False(loop.IsCompleted, "the loop ended");
        Assert.Equal(TrainingRunState.Failed, (await context.Training.Runs.GetAsync("after-outage"))?.State);
        IReadOnlyList<LoggedMessage> logs = context.Logs.Messages;
        Assert.Single(logs, m => m.Level == LogLevel.Warning && m.Message.Contains("storage is unreachable", StringComparison.Ordinal));
        Assert.Single(logs, m => m.Message.Contains("storage is reachable again", StringComparison.Ordinal));
        Assert.DoesNotContain(logs, m => m.Level >= LogLevel.Error);

        await stop.CancelAsync();
        await loop;
    }
}
