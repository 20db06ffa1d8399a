using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Queues;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Model.Imaging;
using ShortcutPipeline.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace ShortcutPipeline.Cli.Tests;

/// <summary>
/// Acceptance, serving: `shortcut serve` runs as its own process with its own Azurite; a separate client (the Azure SDK,
/// as a user's program would use it) puts jobs on the queue as plain JSON and as base64 and reads the PNGs back; after a
/// restart on the same data folder the jobs and images are still there.
/// </summary>
public sealed class ServeTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("cli-serve-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public async Task ServeDrawsTheJobsThatAnotherClientPutsOnItsQueueAndKeepsThemAcrossARestart()
    {
        int port = LoopbackPorts.FreeBlockForAnotherProcess(3);
        string[] arguments = ["serve", "--port", port.ToString(CultureInfo.InvariantCulture), "--data", Path.Combine(folder, "data"), "--device", "cpu"];
        string connection;
        await using (ServeProcess serve = await ServeProcess.StartAsync(RepositoryPaths.ShortcutAssembly, arguments))
        {
            Assert.Contains("Registered the embedded Fashion-MNIST model as fashion", serve.Output, StringComparison.Ordinal);
            connection = ConnectionStringIn(serve.Output);
            Assert.Contains($"BlobEndpoint=http://127.0.0.1:{port}/", connection, StringComparison.Ordinal);

            // The client: plain Azure SDK clients on the printed connection string, one of them base64-encoding its messages.
            await new QueueClient(connection, "generation-jobs").SendMessageAsync(
                """{ "id": "served-plain", "model": { "name": "fashion" }, "classes": [ { "label": 1, "count": 2 } ], "steps": 1, "seed": 3 }""");
            await new QueueClient(connection, "generation-jobs", new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 }).SendMessageAsync(
                """{ "id": "served-base64", "model": { "name": "fashion" }, "items": [ { "label": 7 }, { "label": 9 } ], "steps": 4, "seed": 4 }""");
            var images = new BlobContainerClient(connection, "images");
            await Wait.UntilAsync(async () => (await ListAsync(images)).Count == 4, Wait.Long, async () => $"images: {string.Join(", ", await ListAsync(images))}\n{serve.Output}");

            foreach (string name in await ListAsync(images))
            {
                byte[] png = (await images.GetBlobClient(name).DownloadContentAsync()).Value.Content.ToArray();
                using Image<L8> image = Image.Load<L8>(png);
                Assert.Equal((28, 28), (image.Width, image.Height));
                IReadOnlyDictionary<string, string> text = PngWriter.ReadTextChunks(png);
                Assert.Equal(name.Split('/')[0], text["jobId"]);
                Assert.Equal("fashion", text["model"]);
            }

            await serve.TerminateAsync();
            Assert.Equal(0, await serve.WaitForExitAsync(Wait.Long));
            Assert.Contains("Stopped.", serve.Output, StringComparison.Ordinal);
        }

        // Restarted on the same data folder: the jobs and their images are still there, and the model is not registered again.
        await using (ServeProcess again = await ServeProcess.StartAsync(RepositoryPaths.ShortcutAssembly, arguments))
        {
            Assert.DoesNotContain("Registered the embedded", again.Output, StringComparison.Ordinal);
            var status = new JobStatusService(new PipelineStorage(PipelineStorageClients.FromConnectionString(connection), new PipelineStorageOptions()));
            foreach (string id in new[] { "served-plain", "served-base64" })
            {
                JobStatus job = (await status.GetAsync(id))!;
                Assert.Equal((JobState.Completed, 2), (job.State, job.DoneImages));
            }

            Assert.Equal(4, (await ListAsync(new BlobContainerClient(connection, "images"))).Count);
        }
    }

    [Fact]
    public async Task ServeSaysClearlyWhenItsPortsAreTaken()
    {
        int port = LoopbackPorts.FreeBlockForAnotherProcess(3);
        var taken = new TcpListener(IPAddress.Loopback, port + 1);
        taken.Start();
        try
        {
            var run = await CliRunner.RunAsync("serve", "--port", port.ToString(CultureInfo.InvariantCulture), "--data", Path.Combine(folder, "data"));
            Assert.Equal(1, run.ExitCode);
            Assert.Contains($"Port {port + 1} is in use", run.Errors, StringComparison.Ordinal);
        }
        finally
        {
            taken.Stop();
        }
    }

    private static string ConnectionStringIn(string output) =>
        output.Split('\n').Select(line => line.Trim()).First(line => line.StartsWith("DefaultEndpointsProtocol=", StringComparison.Ordinal));

    private static async Task<List<string>> ListAsync(BlobContainerClient container)
    {
        var names = new List<string>();
        if (!await container.ExistsAsync())
        {
            return names;
        }

        await foreach (BlobItem blob in container.GetBlobsAsync())
        {
            names.Add(blob.Name);
        }

        return names;
    }
}

/// <summary>`shortcut serve` as its own process, ready once it has said how to use it; disposing it stops it (SIGTERM, then a minute).</summary>
internal sealed class ServeProcess : IAsyncDisposable
{
    private readonly AppProcess app;

    private ServeProcess(AppProcess app) => this.app = app;

    public string Output => app.Output;

    public static async Task<ServeProcess> StartAsync(string assembly, string[] arguments)
    {
        var serve = new ServeProcess(AppProcess.Start(assembly, new Dictionary<string, string?>(), arguments));
        try
        {
            await serve.app.WaitForOutputAsync("Ctrl+C stops.", Wait.Long);
            return serve;
        }
        catch
        {
            await serve.DisposeAsync();
            throw;
        }
    }

    public Task TerminateAsync() => app.TerminateAsync();

    public Task<int> WaitForExitAsync(TimeSpan timeout) => app.WaitForExitAsync(timeout);

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync(TimeSpan.FromSeconds(60));
        app.Dispose();
    }
}
