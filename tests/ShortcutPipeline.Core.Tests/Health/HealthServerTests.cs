using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using ShortcutPipeline.Core.Health;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Core.Tests.Health;

/// <summary>The health endpoints over real HTTP, with storage that the tests take away and give back.</summary>
public sealed class HealthServerTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task LivenessAlwaysAnswersAndReadinessFollowsTheStorage()
    {
        using StorageOutage outage = azurite.CreateOutage();
        PipelineStorage storage = PipelineStorage.FromConnectionString(outage.ConnectionString, AzuriteFixture.CreateIsolatedNames());
        await storage.EnsureCreatedAsync();
        (HealthServer server, HealthClient client) = await StartAsync(new StorageReadinessCheck(storage, storage.WorkQueue, storage.JobsTable));
        using (server)
        using (client)
        {
            (HttpStatusCode status, string body) = await client.GetAsync(HealthOptions.LivePath);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("alive", JsonDocument.Parse(body).RootElement.GetProperty("status").GetString());
            JsonElement ready = await client.WaitForReadinessAsync(HttpStatusCode.OK, TimeSpan.FromSeconds(30));
            Assert.Equal("ready", ready.GetProperty("status").GetString());
            Assert.True(HealthClient.Check(ready, "storage").GetProperty("ready").GetBoolean());

            outage.Begin();
            JsonElement unreachable = await client.WaitForReadinessAsync(HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(60));
            Assert.Equal("not-ready", unreachable.GetProperty("status").GetString());
            Assert.False(HealthClient.Check(unreachable, "storage").GetProperty("ready").GetBoolean());
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(HealthOptions.LivePath)).Status);

            outage.End();
            await client.WaitForReadinessAsync(HttpStatusCode.OK, TimeSpan.FromSeconds(60));
            await server.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task AMissingQueueIsNotReadyAndSaysWhichIsMissing()
    {
        PipelineStorage storage = await azurite.CreateStorageAsync();
        await storage.WorkQueue.DeleteAsync();
        (HealthServer server, HealthClient client) = await StartAsync(new StorageReadinessCheck(storage, storage.WorkQueue, storage.JobsTable));
        using (server)
        using (client)
        {
            JsonElement readiness = await client.WaitForReadinessAsync(HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(30));

            string detail = HealthClient.Detail(readiness, "storage");
            Assert.Contains($"queue {storage.Options.WorkQueue}", detail, StringComparison.Ordinal);
            Assert.DoesNotContain($"table {storage.Options.JobsTable}", detail, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task OtherPathsAreNotFoundAndOtherMethodsNotAllowed()
    {
        (HealthServer server, HealthClient client) = await StartAsync();
        using (server)
        using (client)
        using (var http = new HttpClient())
        {
            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/metrics")).Status);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(HealthOptions.ReadyPath)).Status);   // no checks: ready
            using HttpResponseMessage post = await http.PostAsync(new Uri($"http://127.0.0.1:{server.Port}{HealthOptions.LivePath}"), null);
            Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        }
    }

    [Fact]
    public async Task APortThatIsTakenFailsTheStartAndNamesTheSetting()
    {
        var taken = new TcpListener(IPAddress.Any, 0);
        taken.Start();
        try
        {
            int port = ((IPEndPoint)taken.LocalEndpoint).Port;
            using var server = new HealthServer(new HealthOptions { Port = port }, []);

            var exception = await Assert.ThrowsAsync<InvalidOperationException>(() => server.StartAsync(CancellationToken.None));
            Assert.Contains(HealthOptions.PortSetting, exception.Message, StringComparison.Ordinal);
        }
        finally
        {
            taken.Stop();
        }
    }

    [Fact]
    public void OptionsOutOfRangeAreRefusedByName()
    {
        Assert.Contains(HealthOptions.PortSetting, Assert.Throws<InvalidOperationException>(() => new HealthOptions { Port = 0 }.Validate()).Message,
            StringComparison.Ordinal);
        Assert.Contains(nameof(HealthOptions.CheckTimeout),
            Assert.Throws<InvalidOperationException>(() => new HealthOptions { CheckTimeout = TimeSpan.Zero }.Validate()).Message, StringComparison.Ordinal);
    }

    private static async Task<(HealthServer Server, HealthClient Client)> StartAsync(params IReadinessCheck[] checks)
    {
        var server = new HealthServer(new HealthOptions { Port = LoopbackPorts.Free(), CheckTimeout = TimeSpan.FromSeconds(2) }, checks);
        await server.StartAsync(CancellationToken.None);
        return (server, new HealthClient(server.Port));
    }
}
