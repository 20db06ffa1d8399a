using System.Text.Json;
using ShortcutPipeline.Core.Callbacks;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Core.Tests;

/// <summary>
/// Callbacks reach only public addresses: intake rejects a URL that reaches an internal one (in any spelling), and the
/// sender never connects to one, which a listener on every loopback address proves.
/// </summary>
public sealed class CallbackSafetyTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private const string Secret = "callback-tests-secret";

    // What the local run and these tests allow: loopback receivers over http.
    private static readonly CallbackOptions Local = new()
    {
        AllowHttp = true, AllowLoopback = true, SigningSecret = Secret, RetryDelay = TimeSpan.FromMilliseconds(50),
    };

    /// <summary>Internal addresses, in the spellings of the issue, and each range the guard refuses.</summary>
    public static TheoryData<string> InternalUrls() =>
    [
        "https://127.0.0.1/hook", "https://2130706433/hook", "https://0x7f000001/hook", "https://0177.0.0.1/hook", "https://127.1/hook",
        "https://[::1]/hook", "https://[::ffff:127.0.0.1]/hook", "https://[::ffff:7f00:1]/hook", "https://user:pass@127.0.0.1/hook",
        "https://localhost/hook", "https://LOCALHOST./hook", "https://169.254.169.254/latest/meta-data/", "https://10.0.0.1/hook",
        "https://172.16.5.4/hook", "https://192.168.1.1/hook", "https://100.64.0.1/hook", "https://0.0.0.0/hook", "https://[::]/hook",
        "https://[fe80::1]/hook", "https://[fd12:3456::1]/hook", "https://224.0.0.251/hook", "https://[ff02::1]/hook",
        "https://[::ffff:10.0.0.1]/hook", "https://[64:ff9b::a9fe:a9fe]/hook", "https://[2002:7f00:1::1]/hook", "https://255.255.255.255/hook",
    ];

    /// <summary>The loopback spellings, as http URLs of a receiver's port.</summary>
    public static TheoryData<string> LoopbackHosts() =>
    [
        "127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "[::1]", "[::ffff:127.0.0.1]", "user:pass@127.0.0.1", "localhost",
        "0.0.0.0", "[::]",
    ];

    [Theory]
    [MemberData(nameof(InternalUrls))]
    public async Task IntakeRejectsACallbackUrlThatReachesAnInternalAddress(string url)
    {
        TestPipeline pipeline = await CreatePipelineAsync();

        IntakeResult result = await pipeline.Intake.SubmitAsync(Job("internal", url));

        Assert.Equal(IntakeOutcome.Rejected, result.Outcome);
        Assert.Contains(result.Reasons, r => r.StartsWith("$.callbackUrl ", StringComparison.Ordinal) && r.Contains(" is refused: ", StringComparison.Ordinal));
        Assert.Empty(await pipeline.DrainWorkQueueAsync());
    }

    [Fact]
    public async Task WhereLoopbackIsAllowedTheOtherInternalRangesStayRefused()
    {
        TestPipeline pipeline = await CreatePipelineAsync(Local);
        string[] urls = ["http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data/", "http://[fd00::1]/hook", "http://[::ffff:192.168.0.1]/"];

        IntakeResult[] results = await Task.WhenAll(urls.Select((url, i) => pipeline.Intake.SubmitAsync(Job("internal-" + i, url))));

        Assert.All(results, result => Assert.Equal(IntakeOutcome.Rejected, result.Outcome));
        Assert.Contains("is a private address", Assert.Single(results[0].Reasons), StringComparison.Ordinal);
        Assert.Contains("is a link-local address", Assert.Single(results[1].Reasons), StringComparison.Ordinal);
        Assert.Contains("is a unique-local address", Assert.Single(results[2].Reasons), StringComparison.Ordinal);
        Assert.Contains("is a private address", Assert.Single(results[3].Reasons), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheStorageAccountsOwnEndpointsAreRefusedEvenWhereLoopbackIsAllowed()
    {
        TestPipeline pipeline = await CreatePipelineAsync(Local);
        string[] urls = [pipeline.Storage.ImagesContainer.Uri.AbsoluteUri + "/callback", pipeline.Storage.JobsQueue.Uri.AbsoluteUri + "/messages"];

        IntakeResult[] results = await Task.WhenAll(urls.Select((url, i) => pipeline.Intake.SubmitAsync(Job("storage-" + i, url))));

        Assert.All(results, result =>
        {
            Assert.Equal(IntakeOutcome.Rejected, result.Outcome);
            Assert.Contains("is an endpoint of the pipeline's storage account", Assert.Single(result.Reasons), StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task PlainHttpIsRefusedUnlessAnOptionAllowsIt()
    {
        TestPipeline strict = await CreatePipelineAsync();
        TestPipeline lenient = await CreatePipelineAsync(new CallbackOptions { AllowHttp = true });
        // A public address: nothing is resolved, nothing is called.
        string job = Job("plain-http", "http://93.184.215.14/hook");

        IntakeResult refused = await strict.Intake.SubmitAsync(job);
        IntakeResult accepted = await lenient.Intake.SubmitAsync(job);

        Assert.Contains("only https callbacks are allowed", Assert.Single(refused.Reasons), StringComparison.Ordinal);
        Assert.Equal(IntakeOutcome.Accepted, accepted.Outcome);
    }

    [Theory]
    [MemberData(nameof(LoopbackHosts))]
    public async Task TheSenderNeverConnectsToALoopbackAddress(string host)
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        using var receiver = new CallbackReceiver();
        var client = new JobCallbackClient(pipeline.Storage, new CallbackOptions { AllowHttp = true, SigningSecret = Secret });

        CallbackOutcome outcome = await client.SendAsync(receiver.Url(host), Status("never"));

        Assert.Equal(CallbackOutcome.Refused, outcome);
        Assert.Equal(0, receiver.Connections);
    }

    [Fact]
    public async Task AnAllowedCallbackArrivesOnceWithASignatureTheReceiverCanVerify()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        using var receiver = new CallbackReceiver();
        var client = new JobCallbackClient(pipeline.Storage, Local);

        CallbackOutcome outcome = await client.SendAsync(receiver.Url("localhost", "/hooks/done?x=1"), Status("signed"));

        Assert.Equal(CallbackOutcome.Delivered, outcome);
        ReceivedRequest request = Assert.Single(receiver.Requests);
        Assert.Equal(("POST", "/hooks/done?x=1"), (request.Method, request.Target));
        Assert.StartsWith("application/json", request.Headers["Content-Type"], StringComparison.Ordinal);
        string timestamp = request.Headers[CallbackSignature.TimestampHeader];
        string signature = request.Headers[CallbackSignature.SignatureHeader];
        Assert.True(CallbackSignature.Verify(Secret, timestamp, signature, request.Body, DateTimeOffset.UtcNow));
        Assert.False(CallbackSignature.Verify(Secret, timestamp, signature, [.. request.Body, (byte)' '], DateTimeOffset.UtcNow));
        Assert.False(CallbackSignature.Verify("another-secret", timestamp, signature, request.Body, DateTimeOffset.UtcNow));
        Assert.False(CallbackSignature.Verify(Secret, timestamp, signature, request.Body, DateTimeOffset.UtcNow.AddMinutes(10)));
        using JsonDocument body = JsonDocument.Parse(request.Body);
        Assert.Equal("signed", body.RootElement.GetProperty("id").GetString());
    }

    [Fact]
    public async Task RedirectsAreNotFollowed()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        using var elsewhere = new CallbackReceiver();
        using var receiver = new CallbackReceiver
        {
            Answer = _ => new CallbackAnswer(302, Headers: new Dictionary<string, string> { ["Location"] = elsewhere.Url("127.0.0.1").AbsoluteUri }),
        };
        var client = new JobCallbackClient(pipeline.Storage, Local);

        CallbackOutcome outcome = await client.SendAsync(receiver.Url("127.0.0.1"), Status("redirected"));

        Assert.Equal(CallbackOutcome.Failed, outcome);
        Assert.Single(receiver.Requests);
        Assert.Equal(0, elsewhere.Connections);
    }

    [Fact]
    public async Task FailuresAreRetriedABoundedNumberOfTimesAndAnswersAreNeverLogged()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        using var receiver = new CallbackReceiver { Answer = _ => new CallbackAnswer(503, "internal details: db=10.1.2.3 user=admin") };
        var logs = new TestLoggerProvider();
        var client = new JobCallbackClient(pipeline.Storage, Local, logger: logs.CreateLogger<JobCallbackClient>());

        CallbackOutcome outcome = await client.SendAsync(receiver.Url("127.0.0.1"), Status("retried"));

        Assert.Equal(CallbackOutcome.Failed, outcome);
        Assert.Equal(Local.MaxAttempts, receiver.Requests.Count);
        Assert.Single(receiver.Requests.Select(r => r.Headers[CallbackSignature.DeliveryHeader]).Distinct());
        Assert.All(receiver.Requests, r => Assert.True(CallbackSignature.Verify(
            Secret, r.Headers[CallbackSignature.TimestampHeader], r.Headers[CallbackSignature.SignatureHeader], r.Body, DateTimeOffset.UtcNow)));
        Assert.Equal(Local.MaxAttempts, logs.Messages.Count(m => m.Message.Contains("answered 503", StringComparison.Ordinal)));
        Assert.DoesNotContain(logs.Messages, m => m.Message.Contains("internal details", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ASuccessAfterAFailureEndsTheRetries()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        int answered = 0;
        using var receiver = new CallbackReceiver { Answer = _ => new CallbackAnswer(Interlocked.Increment(ref answered) == 1 ? 500 : 200) };
        var client = new JobCallbackClient(pipeline.Storage, Local);

        CallbackOutcome outcome = await client.SendAsync(receiver.Url("127.0.0.1"), Status("second-time"));

        Assert.Equal(CallbackOutcome.Delivered, outcome);
        Assert.Equal(2, receiver.Requests.Count);
    }

    private async Task<TestPipeline> CreatePipelineAsync(CallbackOptions? callbacks = null)
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite, callbackOptions: callbacks);
        await pipeline.RegisterModelAsync("fashion", "v1");
        return pipeline;
    }

    private static JobStatus Status(string id) => new(
        id, JobState.Completed, [], Model: null, ModelVersion: null, Steps: null, CfgScale: null, Seed: null, Priority: null, Deadline: null,
        TotalImages: 1, DoneImages: 1, Images: [], DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, StartedAt: null, FinishedAt: null, Error: null);

    private static string Job(string id, string callbackUrl) =>
        $$"""{ "id": "{{id}}", "model": { "name": "fashion" }, "classes": [ { "label": 1, "count": 1 } ], "steps": 4, "callbackUrl": "{{callbackUrl}}" }""";
}
