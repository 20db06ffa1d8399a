using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using ShortcutPipeline.Core;
using ShortcutPipeline.Cli.LocalRun;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Model.Imaging;
using ShortcutPipeline.Testing;
using ShortcutPipeline.Worker.Tests;

namespace ShortcutPipeline.Cli.Tests;

/// <summary>enqueue, status, wait and download against a real Azurite, with the pipeline running in-process.</summary>
public sealed class PipelineCommandsTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("cli-tests-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public async Task ADownloadFromStorageThatIsNotThePipelinesSaysWhatToCheckWithoutAStackTrace()
    {
        string[] storage = ["--connection", azurite.ConnectionString, "--storage-prefix", AzuriteFixture.CreateIsolatedPrefix()];   // nothing created

        var run = await CliRunner.RunAsync(["download", "some-job", "--out", Path.Combine(folder, "downloads"), .. storage]);

        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith("shortcut: the pipeline's storage is not there", run.Errors, StringComparison.Ordinal);
        Assert.Contains("--storage-prefix", run.Errors, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JobsEnqueuedAsTextAndAsBase64AreWaitedForShownAndDownloaded()
    {
        string prefix = AzuriteFixture.CreateIsolatedPrefix();
        PipelineStorageOptions names = PipelineStorageOptions.WithPrefix(prefix);
        string[] storage = ["--connection", azurite.ConnectionString, "--storage-prefix", prefix];
        string plain = Write("plain.json", """{ "id": "cli-plain", "model": { "name": "tiny" }, "classes": [ { "label": 1, "count": 3 } ], "steps": 2 }""");
        string encoded = Write("encoded.json", """{ "model": { "name": "tiny" }, "items": [ { "label": 2 }, { "label": 3 } ], "steps": 1 }""");

        await using LocalPipeline pipeline = await LocalPipeline.StartAsync(azurite.ConnectionString, names, worker =>
        {
            worker.Device = "cpu";
            worker.PollInterval = TimeSpan.FromMilliseconds(100);
            worker.ModelCacheDirectory = Path.Combine(folder, "cache");
        }, LogLevel.Warning, CancellationToken.None);
        await using (FileStream model = File.OpenRead(TestModels.Tiny))
        {
            await pipeline.Registry.UploadAndPromoteAsync("tiny", "v1", model, null, 10);
        }

        var first = await CliRunner.RunAsync(["enqueue", plain, .. storage]);
        var second = await CliRunner.RunAsync(["enqueue", encoded, "--base64", .. storage]);
        Assert.Equal(0, first.ExitCode);
        Assert.Equal(0, second.ExitCode);
        string plainId = first.Output.Trim();
        string derivedId = second.Output.Trim();
        Assert.Equal("cli-plain", plainId);
        Assert.StartsWith("msg-", derivedId, StringComparison.Ordinal);

        var waited = await CliRunner.RunAsync(["wait", plainId, derivedId, "--timeout", "00:03:00", .. storage]);
        Assert.True(waited.ExitCode == 0, waited.Output + waited.Errors);
        Assert.Contains($"{derivedId}: completed, 2/2 images", waited.Output, StringComparison.Ordinal);

        var status = await CliRunner.RunAsync(["status", plainId, .. storage]);
        Assert.Equal(0, status.ExitCode);
        Assert.Contains("\"state\": \"completed\"", status.Output, StringComparison.Ordinal);
        Assert.Contains("\"doneImages\": 3", status.Output, StringComparison.Ordinal);

        string downloads = Path.Combine(folder, "downloads");
        var downloaded = await CliRunner.RunAsync(["download", plainId, derivedId, "--out", downloads, .. storage]);
        Assert.Equal(0, downloaded.ExitCode);
        Assert.Equal(["0.png", "1.png", "2.png", "contact-sheet.png"],
            Directory.GetFiles(Path.Combine(downloads, plainId)).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(plainId, PngWriter.ReadTextChunks(File.ReadAllBytes(Path.Combine(downloads, plainId, "2.png")))["jobId"]);
        // Three 8x8 tiles, two to a row, 2 pixels of padding around each, enlarged for viewing.
        using var sheet = SixLabors.ImageSharp.Image.Load(File.ReadAllBytes(Path.Combine(downloads, plainId, "contact-sheet.png")));
        int scale = ImageGrid.ViewingScale(8);
        Assert.Equal(((2 * 10 + 2) * scale, (2 * 10 + 2) * scale), (sheet.Width, sheet.Height));
        Assert.Equal(2, Directory.GetFiles(Path.Combine(downloads, derivedId), "?.png").Length);
    }

    [Fact]
    public async Task AFileThatBreaksTheContractIsNotEnqueuedAndTheReasonsAreShown()
    {
        string prefix = AzuriteFixture.CreateIsolatedPrefix();
        PipelineStorage storage = await azurite.CreateStorageAsync(prefix);
        string file = Write("bad.json", """
            [ { "id": "fine", "model": { "name": "tiny" }, "classes": [ { "count": 1 } ], "steps": 1 },
              { "id": "bad", "model": { "name": "tiny" }, "classes": [ { "count": 1 } ], "steps": 5 } ]
            """);

        var result = await CliRunner.RunAsync("enqueue", file, "--connection", azurite.ConnectionString, "--storage-prefix", prefix);
        var notJson = await CliRunner.RunAsync("enqueue", Write("text.json", "hello"), "--connection", azurite.ConnectionString, "--storage-prefix", prefix);

        Assert.Equal((1, 1), (result.ExitCode, notJson.ExitCode));
        Assert.Contains("Job 2 (bad) breaks the job contract", result.Errors, StringComparison.Ordinal);
        Assert.Contains("$.steps", result.Errors, StringComparison.Ordinal);
        Assert.Contains("Nothing was enqueued: The input is not JSON", notJson.Errors, StringComparison.Ordinal);
        Assert.Equal(0, (await storage.JobsQueue.GetPropertiesAsync()).Value.ApproximateMessagesCount);
    }

    [Fact]
    public async Task OverHttpTheJobIsPostedWithTheFunctionKeyAndTheAnswerDecides()
    {
        int port = LoopbackPorts.Free();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        string file = Write("http.json", """{ "model": { "name": "tiny" }, "classes": [ { "count": 1 } ], "steps": 1 }""");
        Task<(string Path, string? Key, string Body)> accepted = AnswerOnceAsync(listener, 202, """{ "jobId": "msg-42", "outcome": "accepted" }""");

        var sent = await CliRunner.RunAsync("enqueue", file, "--via", "http", "--url", $"http://127.0.0.1:{port}", "--function-key", "secret");
        Assert.True(sent.ExitCode == 0, sent.Output + sent.Errors);
        (string path, string? key, string body) = await accepted.WaitAsync(TimeSpan.FromSeconds(30));
        Task<(string, string?, string)> rejected = AnswerOnceAsync(listener, 400, """{ "jobId": "msg-43", "outcome": "rejected", "reasons": ["$.model.name \"tiny\" is not a registered model."] }""");
        var refused = await CliRunner.RunAsync("enqueue", file, "--via", "http", "--url", $"http://127.0.0.1:{port}/api/jobs");
        await rejected.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal((0, "msg-42"), (sent.ExitCode, sent.Output.Trim()));
        Assert.Equal(("/api/jobs", "secret"), (path, key));
        Assert.Equal(File.ReadAllText(file).Trim(), body);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("REJECTED (HTTP 400", refused.Errors, StringComparison.Ordinal);
        Assert.Contains("is not a registered model", refused.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownJobsAndTimeoutsHaveTheirOwnExitCodes()
    {
        string prefix = AzuriteFixture.CreateIsolatedPrefix();
        PipelineStorage storage = await azurite.CreateStorageAsync(prefix);
        string[] options = ["--connection", azurite.ConnectionString, "--storage-prefix", prefix];

        var status = await CliRunner.RunAsync(["status", "nobody", .. options]);
        var wait = await CliRunner.RunAsync(["wait", "nobody", "--timeout", "00:00:01", .. options]);

        Assert.Equal(1, status.ExitCode);
        Assert.Contains("No job has the id \"nobody\"", status.Errors, StringComparison.Ordinal);
        Assert.Equal(ShortcutCli.ExitCodes.Timeout, wait.ExitCode);
        Assert.Contains("nobody: no status yet", wait.Errors, StringComparison.Ordinal);
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(folder, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static async Task<(string Path, string? Key, string Body)> AnswerOnceAsync(HttpListener listener, int statusCode, string answer)
    {
        HttpListenerContext context = await listener.GetContextAsync();
        using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
        string body = await reader.ReadToEndAsync();
        context.Response.StatusCode = statusCode;
        byte[] bytes = Encoding.UTF8.GetBytes(answer);
        context.Response.ContentType = "application/json";
        await context.Response.OutputStream.WriteAsync(bytes);
        context.Response.Close();
        return (context.Request.Url!.AbsolutePath, context.Request.Headers["x-functions-key"], body);
    }
}
