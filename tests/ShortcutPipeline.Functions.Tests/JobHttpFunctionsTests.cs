using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Functions.Tests;

/// <summary>The HTTP functions end to end over real Core services and Azurite.</summary>
public sealed class JobHttpFunctionsTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static readonly Uri SubmitUrl = new("http://localhost:7071/api/jobs");

    private const string Job = """{ "id": "http-1", "model": { "name": "fashion" }, "classes": [ { "label": 2, "count": 3 } ], "steps": 4 }""";

    [Fact]
    public async Task SubmitAcceptsANewJobWith202AndTheStatusUrl()
    {
        (TestPipeline pipeline, JobHttpFunctions functions) = await CreateAsync();

        TestHttpResponseData response = await SubmitAsync(functions, Job);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("http://localhost:7071/api/jobs/http-1", Assert.Single(response.Headers.GetValues("Location")));
        using JsonDocument body = JsonDocument.Parse(response.ReadBody());
        Assert.Equal("http-1", body.RootElement.GetProperty("id").GetString());
        Assert.Equal("accepted", body.RootElement.GetProperty("outcome").GetString());
        Assert.Equal("queued", body.RootElement.GetProperty("state").GetString());
        Assert.Equal("http://localhost:7071/api/jobs/http-1", body.RootElement.GetProperty("statusUrl").GetString());
        Assert.Equal(3, (await pipeline.DrainWorkQueueAsync()).Sum(w => w.Images.Count));
    }

    [Fact]
    public async Task ResubmittingTheSameJobAnswers200WithoutNewWork()
    {
        (TestPipeline pipeline, JobHttpFunctions functions) = await CreateAsync();

        await SubmitAsync(functions, Job);
        TestHttpResponseData again = await SubmitAsync(functions, Job);

        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal("duplicate", JsonDocument.Parse(again.ReadBody()).RootElement.GetProperty("outcome").GetString());
        Assert.Equal(3, (await pipeline.DrainWorkQueueAsync()).Sum(w => w.Images.Count));
    }

    [Fact]
    public async Task JobsWithoutIdsAreNewJobsOnEveryPost()
    {
        (TestPipeline pipeline, JobHttpFunctions functions) = await CreateAsync();
        const string job = """{ "model": { "name": "fashion" }, "classes": [ { "label": 2, "count": 1 } ], "steps": 4 }""";

        TestHttpResponseData first = await SubmitAsync(functions, job);
        TestHttpResponseData second = await SubmitAsync(functions, job);

        Assert.Equal((HttpStatusCode.Accepted, HttpStatusCode.Accepted), (first.StatusCode, second.StatusCode));
        Assert.NotEqual(first.Headers.GetValues("Location").Single(), second.Headers.GetValues("Location").Single());
        Assert.Equal(2, (await pipeline.DrainWorkQueueAsync()).Count);
    }

    [Fact]
    public async Task InvalidJobAnswers400WithEveryReasonAndIsRecorded()
    {
        (TestPipeline pipeline, JobHttpFunctions functions) = await CreateAsync();

        TestHttpResponseData response = await SubmitAsync(functions,
            """{ "id": "bad-http", "model": { "name": "nosuch" }, "classes": [ { "count": 0 } ], "steps": 3, "colour": "red" }""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using JsonDocument body = JsonDocument.Parse(response.ReadBody());
        string[] reasons = body.RootElement.GetProperty("reasons").EnumerateArray().Select(r => r.GetString()!).ToArray();
        Assert.Equal(4, reasons.Length);
        Assert.Contains(reasons, r => r.StartsWith("$.colour is not a known property", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.StartsWith("$.classes[0].count must be", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.StartsWith("$.steps must be a power of two", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.StartsWith("$.model.name \"nosuch\" is not a registered model", StringComparison.Ordinal));
        Assert.Equal(JobState.Rejected, (await pipeline.Status.GetAsync("bad-http"))?.State);
    }

    [Fact]
    public async Task BodiesOverTheJobLimitAreRejectedAndBeyondTheReadLimitRefused()
    {
        (_, JobHttpFunctions functions) = await CreateAsync();

        TestHttpResponseData overJobLimit = await SubmitAsync(functions, new string(' ', 70_000) + Job);
        TestHttpResponseData overReadLimit = await SubmitAsync(functions, new string(' ', JobHttpFunctions.MaxBodyBytes + 1));

        Assert.Equal(HttpStatusCode.BadRequest, overJobLimit.StatusCode);
        Assert.Contains("the limit is 65536 bytes", overJobLimit.ReadBody(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, overReadLimit.StatusCode);
    }

    [Fact]
    public async Task ABodyThatIsNotValidUtf8Answers400WithAReasonAndKeepsItsBytes()
    {
        (TestPipeline pipeline, JobHttpFunctions functions) = await CreateAsync();
        byte[] body = [.. Encoding.UTF8.GetBytes(Job.Replace("\"steps\": 4", "\"steps\": 4, \"note\": \"ab", StringComparison.Ordinal)),
            0xC3, 0x28, .. "\" }"u8];

        var response = (TestHttpResponseData)await functions.SubmitAsync(new TestHttpRequestData("POST", SubmitUrl, body), CancellationToken.None);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using JsonDocument answer = JsonDocument.Parse(response.ReadBody());
        string[] reasons = answer.RootElement.GetProperty("reasons").EnumerateArray().Select(r => r.GetString()!).ToArray();
        int offset = body.AsSpan().IndexOf((byte)0xC3);
        Assert.Contains(reasons, r => r.StartsWith(
            string.Create(CultureInfo.InvariantCulture, $"The message is not valid UTF-8 text: the bytes at offset {offset}"), StringComparison.Ordinal));
        Assert.Equal(JobState.Rejected, (await pipeline.Status.GetAsync("http-1"))?.State);
        Assert.Equal(body.Length, (await pipeline.Status.GetSubmittedMessageAsync("http-1"))?.Bytes);
        Assert.Empty(await pipeline.DrainWorkQueueAsync());
    }

    [Fact]
    public async Task GetReturnsTheStatusOr404()
    {
        (TestPipeline pipeline, JobHttpFunctions functions) = await CreateAsync();
        await SubmitAsync(functions, Job);
        await pipeline.Progress.RecordImageAsync("http-1", 0);

        var found = (TestHttpResponseData)await functions.GetAsync(Request("GET", "http-1"), "http-1", CancellationToken.None);
        var missing = (TestHttpResponseData)await functions.GetAsync(Request("GET", "nope"), "nope", CancellationToken.None);

        Assert.Equal(HttpStatusCode.OK, found.StatusCode);
        Assert.Equal("application/json; charset=utf-8", found.Headers.GetValues("Content-Type").Single());
        using JsonDocument body = JsonDocument.Parse(found.ReadBody());
        Assert.Equal("running", body.RootElement.GetProperty("state").GetString());
        Assert.Equal(1, body.RootElement.GetProperty("doneImages").GetInt32());
        Assert.Equal(3, body.RootElement.GetProperty("totalImages").GetInt32());
        Assert.Contains("sig=", body.RootElement.GetProperty("images")[0].GetProperty("url").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task TheJobSchemaIsPublishedAndTheExamplesInTheContractFolderPassIt()
    {
        var response = (TestHttpResponseData)await JobHttpFunctions.GetSchemaAsync(new TestHttpRequestData("GET", new Uri("http://localhost:7071/api/schema")), null, CancellationToken.None);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/schema+json; charset=utf-8", response.Headers.GetValues("Content-Type").Single());
        var schema = Json.Schema.JsonSchema.FromText(response.ReadBody());
        string examples = Path.Combine(RepositoryPaths.Root, "src", "ShortcutPipeline.Core", "Contracts", "examples");
        Assert.NotEmpty(Directory.GetFiles(examples, "*.json"));
        foreach (string example in Directory.GetFiles(examples, "*.json"))
        {
            using JsonDocument job = JsonDocument.Parse(File.ReadAllText(example));
            Assert.True(schema.Evaluate(job.RootElement).IsValid, example);
        }

        using JsonDocument bad = JsonDocument.Parse("""{ "model": { "name": "fashion" }, "steps": 3 }""");
        Assert.False(schema.Evaluate(bad.RootElement).IsValid);
    }

    [Fact]
    public async Task CancelByPostOrDelete()
    {
        (TestPipeline pipeline, JobHttpFunctions functions) = await CreateAsync();
        await SubmitAsync(functions, Job);

        var cancelled = (TestHttpResponseData)await functions.CancelAsync(Request("POST", "http-1/cancel"), "http-1", CancellationToken.None);
        var again = (TestHttpResponseData)await functions.DeleteAsync(Request("DELETE", "http-1"), "http-1", CancellationToken.None);
        var unknown = (TestHttpResponseData)await functions.DeleteAsync(Request("DELETE", "nope"), "nope", CancellationToken.None);

        Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
        Assert.Equal("cancelled", JsonDocument.Parse(cancelled.ReadBody()).RootElement.GetProperty("state").GetString());
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.True(await pipeline.Progress.IsCancelledOrExpiredAsync("http-1"));
    }

    private async Task<(TestPipeline, JobHttpFunctions)> CreateAsync()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await pipeline.RegisterModelAsync("fashion", "v1");
        return (pipeline, new JobHttpFunctions(pipeline.Intake, pipeline.Status));
    }

    private static async Task<TestHttpResponseData> SubmitAsync(JobHttpFunctions functions, string body) =>
        (TestHttpResponseData)await functions.SubmitAsync(new TestHttpRequestData("POST", SubmitUrl, body), CancellationToken.None);

    private static TestHttpRequestData Request(string method, string path) =>
        new(method, new Uri(SubmitUrl + "/" + path));
}
