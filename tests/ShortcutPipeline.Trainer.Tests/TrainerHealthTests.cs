using System.Net;
using System.Text.Json;
using ShortcutPipeline.Core.Health;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Trainer.Tests;

/// <summary>The trainer host's health endpoints over real HTTP, in its own process, with storage taken away and given back.</summary>
public sealed class TrainerHealthTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task TheTrainerIsLiveAndReadyWhileStorageIsReachable()
    {
        PipelineStorage storage = await azurite.CreateStorageAsync();
        using StorageOutage outage = azurite.CreateOutage();
        using var work = new TempDirectory("trainer-health-");
        outage.Begin();
        await using HostProcess trainer = TrainerProcess.Start(outage.ConnectionString, storage.Options, TrainerTestContext.FastOptions(work.Path), "--loop");
        using var health = new HealthClient(trainer.HealthPort);

        JsonElement unreachable = await health.WaitForReadinessAsync(HttpStatusCode.ServiceUnavailable, Wait.Long, appOutput: () => trainer.Output);
        Assert.False(HealthClient.Check(unreachable, "storage").GetProperty("ready").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, (await health.GetAsync(HealthOptions.LivePath)).Status);

        outage.End();
        JsonElement ready = await health.WaitForReadinessAsync(HttpStatusCode.OK, Wait.Long, appOutput: () => trainer.Output);

        Assert.Contains($"queue {storage.Options.TrainingQueue}", HealthClient.Detail(ready, "storage"), StringComparison.Ordinal);
        Assert.Contains($"table {storage.Options.RunsTable}", HealthClient.Detail(ready, "storage"), StringComparison.Ordinal);
        await trainer.TerminateAsync();
        Assert.Equal(0, await trainer.WaitForExitAsync(Wait.Long));
    }
}
