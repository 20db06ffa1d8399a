using System.Text;
using Azure;
using Azure.Data.Tables;
using ShortcutPipeline.Core.Contracts;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Core.Tests;

public sealed class JobIntakeTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private const string TwentyImages = """
        {
          "id": "twenty",
          "model": { "name": "fashion" },
          "classes": [ { "label": 0, "count": 10 }, { "count": 10 } ],
          "steps": 8, "cfgScale": 2.5, "seed": 1000, "priority": "high",
          "deadline": "2099-01-01T00:00:00Z"
        }
        """;

    [Fact]
    public async Task PlainJsonJobIsAcceptedAndSplitIntoWorkItems()
    {
        TestPipeline pipeline = await CreatePipelineAsync();

        IntakeResult result = await pipeline.Intake.SubmitAsync(TwentyImages, "message-1");

        Assert.Equal(IntakeOutcome.Accepted, result.Outcome);
        Assert.Equal("twenty", result.JobId);
        Assert.Empty(result.Reasons);
        IReadOnlyList<WorkItem> work = await pipeline.DrainWorkQueueAsync();
        Assert.Equal([16, 4], work.Select(w => w.Images.Count));
        Assert.All(work, w =>
        {
            Assert.Equal("twenty", w.JobId);
            Assert.Equal("fashion", w.Model);
            Assert.Equal("v2", w.ModelVersion);
            Assert.Equal(8, w.Steps);
            Assert.Equal(2.5, w.CfgScale);
            Assert.Equal(JobPriority.High, w.Priority);
            Assert.Equal(new DateTimeOffset(2099, 1, 1, 0, 0, 0, TimeSpan.Zero), w.Deadline);
        });
        ImageRequest[] images = work.SelectMany(w => w.Images).OrderBy(i => i.Index).ToArray();
        Assert.Equal(Enumerable.Range(0, 20), images.Select(i => i.Index));
        Assert.All(images, i => Assert.Equal(i.Index < 10 ? 0 : null, i.Label));
        Assert.All(images, i => Assert.Equal(1000 + i.Index, i.Seed));

        JobStatus? status = await pipeline.Status.GetAsync("twenty");
        Assert.NotNull(status);
        Assert.Equal(JobState.Queued, status.State);
        Assert.Equal(20, status.TotalImages);
        Assert.Equal(0, status.DoneImages);
        Assert.Equal("v2", status.ModelVersion);
        Assert.Equal(1000, status.Seed);
    }

    [Fact]
    public async Task TheStatusRecordKeepsStateAndPriorityAsTheEnumsNames()
    {
        // The columns other readers of the table (and records written before) depend on: text, not numbers.
        TestPipeline pipeline = await CreatePipelineAsync();
        await pipeline.Intake.SubmitAsync(TwentyImages, "message-1");

        TableEntity record = (await pipeline.Storage.JobsTable.GetEntityAsync<TableEntity>("twenty", "job")).Value;

        Assert.Equal("Queued", record.GetString("State"));
        Assert.Equal("High", record.GetString("Priority"));
    }

    [Fact]
    public async Task Base64JobIsAcceptedLikeItsPlainForm()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        string base64 = Convert.ToBase64String(Encoding.UTF8.GetBytes(TwentyImages));

        IntakeResult result = await pipeline.Intake.SubmitAsync(base64);
        IntakeResult plainAgain = await pipeline.Intake.SubmitAsync(TwentyImages);

        Assert.Equal(IntakeOutcome.Accepted, result.Outcome);
        Assert.Equal(IntakeOutcome.Duplicate, plainAgain.Outcome);
        Assert.Equal(20, (await pipeline.DrainWorkQueueAsync()).Sum(w => w.Images.Count));
        SubmittedMessage? kept = await pipeline.Status.GetSubmittedMessageAsync("twenty");
        Assert.Equal(base64, kept?.Text);
    }

    [Fact]
    public async Task ItemsKeepTheirOwnSeedsAndPinnedVersion()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        const string job = """
            { "id": "items", "model": { "name": "fashion", "version": "v1" },
              "items": [ { "label": 3, "seed": 77 }, { "label": 4 }, { "seed": 5 } ], "steps": 1, "seed": 10 }
            """;

        Assert.Equal(IntakeOutcome.Accepted, (await pipeline.Intake.SubmitAsync(job)).Outcome);

        WorkItem work = Assert.Single(await pipeline.DrainWorkQueueAsync());
        Assert.Equal("v1", work.ModelVersion);
        Assert.Equal([new ImageRequest(0, 3, 77), new ImageRequest(1, 4, 11), new ImageRequest(2, null, 5)], work.Images);
    }

    [Fact]
    public async Task UnpinnedJobsUseTheVersionThatWasLatestAtIntake()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        const string job = """{ "model": { "name": "fashion" }, "classes": [ { "label": 1, "count": 1 } ], "steps": 2 }""";

        await pipeline.Intake.SubmitAsync(job, "before");
        await pipeline.RegisterModelAsync("fashion", "v3");
        await pipeline.Intake.SubmitAsync(job, "after");

        IReadOnlyList<WorkItem> work = await pipeline.DrainWorkQueueAsync();
        Assert.Equal("v2", Assert.Single(work, w => w.JobId == "msg-before").ModelVersion);
        Assert.Equal("v3", Assert.Single(work, w => w.JobId == "msg-after").ModelVersion);
    }

    [Fact]
    public async Task JobWithoutIdOrSeedGetsDerivedOnesThatRedeliveryReproduces()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        const string job = """{ "model": { "name": "fashion" }, "classes": [ { "label": 1, "count": 2 } ], "steps": 2 }""";

        IntakeResult byMessageId = await pipeline.Intake.SubmitAsync(job, "5a1c0b2e-queue-message");
        IntakeResult redelivered = await pipeline.Intake.SubmitAsync(job, "5a1c0b2e-queue-message");
        IntakeResult byContent = await pipeline.Intake.SubmitAsync(job);
        IntakeResult byContentAgain = await pipeline.Intake.SubmitAsync("  " + job + "\n");

        Assert.Equal("msg-5a1c0b2e-queue-message", byMessageId.JobId);
        Assert.Equal((IntakeOutcome.Duplicate, byMessageId.JobId), (redelivered.Outcome, redelivered.JobId));
        Assert.StartsWith("sha-", byContent.JobId, StringComparison.Ordinal);
        Assert.Equal((IntakeOutcome.Duplicate, byContent.JobId), (byContentAgain.Outcome, byContentAgain.JobId));

        IReadOnlyList<WorkItem> work = await pipeline.DrainWorkQueueAsync();
        Assert.Equal(2, work.Count);
        long seed = GenerationJobReader.DeriveSeed(byMessageId.JobId);
        Assert.Equal([seed, seed + 1], work.Single(w => w.JobId == byMessageId.JobId).Images.Select(i => i.Seed));
    }

    [Fact]
    public async Task SameIdTwiceCreatesTheWorkOnce()
    {
        TestPipeline pipeline = await CreatePipelineAsync();

        IntakeResult first = await pipeline.Intake.SubmitAsync(TwentyImages, "delivery-1");
        IntakeResult second = await pipeline.Intake.SubmitAsync(TwentyImages, "delivery-2");

        Assert.Equal(IntakeOutcome.Accepted, first.Outcome);
        Assert.Equal(IntakeOutcome.Duplicate, second.Outcome);
        Assert.False(second.FinishedEnqueueing);
        Assert.Equal(20, (await pipeline.DrainWorkQueueAsync()).Sum(w => w.Images.Count));
    }

    [Fact]
    public async Task SameIdWithOtherContentIsRejectedWithoutTouchingTheFirstJob()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        string other = TwentyImages.Replace("\"steps\": 8", "\"steps\": 16", StringComparison.Ordinal);

        await pipeline.Intake.SubmitAsync(TwentyImages);
        IntakeResult second = await pipeline.Intake.SubmitAsync(other, "delivery-2");

        Assert.Equal(IntakeOutcome.Rejected, second.Outcome);
        Assert.Equal("msg-delivery-2", second.JobId);
        Assert.Contains("$.id \"twenty\" is taken: a different job was submitted under it", Assert.Single(second.Reasons), StringComparison.Ordinal);
        Assert.Equal(JobState.Rejected, (await pipeline.Status.GetAsync("msg-delivery-2"))?.State);
        Assert.Equal(other, (await pipeline.Status.GetSubmittedMessageAsync("msg-delivery-2"))?.Text);
        Assert.Equal(JobState.Queued, (await pipeline.Status.GetAsync("twenty"))?.State);
        Assert.All(await pipeline.DrainWorkQueueAsync(), w => Assert.Equal(8, w.Steps));
    }

    [Fact]
    public async Task ARejectedJobDoesNotReserveItsIdAndItsRedeliveryStaysRejected()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        const string bad = """{ "id": "fix-me", "model": { "name": "fashion" }, "classes": [ { "label": 1, "count": 2 } ], "steps": 3 }""";
        string fixedJob = bad.Replace("\"steps\": 3", "\"steps\": 4", StringComparison.Ordinal);

        IntakeResult rejected = await pipeline.Intake.SubmitAsync(bad, "delivery-1");
        IntakeResult accepted = await pipeline.Intake.SubmitAsync(fixedJob, "delivery-2");
        IntakeResult badAgain = await pipeline.Intake.SubmitAsync(bad, "delivery-1");
        IntakeResult fixedAgain = await pipeline.Intake.SubmitAsync(fixedJob, "delivery-2");

        Assert.Equal((IntakeOutcome.Rejected, "fix-me"), (rejected.Outcome, rejected.JobId));
        Assert.Equal((IntakeOutcome.Accepted, "fix-me"), (accepted.Outcome, accepted.JobId));
        Assert.Equal((IntakeOutcome.Rejected, "fix-me"), (badAgain.Outcome, badAgain.JobId));
        Assert.Equal(rejected.Reasons, badAgain.Reasons);
        Assert.Equal((IntakeOutcome.Duplicate, "fix-me"), (fixedAgain.Outcome, fixedAgain.JobId));
        JobStatus? status = await pipeline.Status.GetAsync("fix-me");
        Assert.Equal((JobState.Queued, 2, 4), (status?.State, status?.TotalImages, status?.Steps));
        Assert.Empty(status!.Reasons);
        Assert.Equal(fixedJob, (await pipeline.Status.GetSubmittedMessageAsync("fix-me"))?.Text);
        Assert.Null(await pipeline.Status.GetAsync("msg-delivery-1"));
        WorkItem work = Assert.Single(await pipeline.DrainWorkQueueAsync());
        Assert.Equal(("fix-me", 4, 2), (work.JobId, work.Steps, work.Images.Count));
    }

    [Fact]
    public async Task AnotherBadJobUnderARejectedIdReplacesTheRejectionAndEachRedeliveryKeepsItsOwnReasons()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        const string first = """{ "id": "twice-bad", "model": { "name": "fashion" }, "classes": [ { "count": 2 } ], "steps": 3 }""";
        string second = first.Replace("\"steps\": 3", "\"steps\": 4, \"colour\": \"red\"", StringComparison.Ordinal);

        IntakeResult one = await pipeline.Intake.SubmitAsync(first);
        IntakeResult two = await pipeline.Intake.SubmitAsync(second);
        IntakeResult oneAgain = await pipeline.Intake.SubmitAsync(first);

        Assert.Contains("$.steps must be a power of two", Assert.Single(one.Reasons), StringComparison.Ordinal);
        Assert.Contains("$.colour is not a known property", Assert.Single(two.Reasons), StringComparison.Ordinal);
        Assert.Equal((IntakeOutcome.Rejected, "twice-bad"), (oneAgain.Outcome, oneAgain.JobId));
        Assert.Equal(one.Reasons, oneAgain.Reasons);
        JobStatus? status = await pipeline.Status.GetAsync("twice-bad");
        Assert.Equal(JobState.Rejected, status?.State);
        Assert.Equal(two.Reasons, status!.Reasons);
        Assert.Equal(second, (await pipeline.Status.GetSubmittedMessageAsync("twice-bad"))?.Text);
    }

    [Fact]
    public async Task DuplicatesAreComparedOnTheCanonicalFormOfTheJob()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        const string job = """{ "id": "canonical", "model": { "name": "fashion" }, "classes": [ { "label": 1, "count": 2 } ], "steps": 4, "cfgScale": 2.5, "seed": 9007199254740993 }""";
        // The same job: keys in another order, other whitespace, an escaped letter, the same numbers written otherwise.
        const string reordered = """
            {"seed":9007199254740993,"cfgScale":25e-1,"steps":4,
             "classes":[{"count":2,"label":1}],"model":{"name":"fas\u0068ion"},"id":"canonical"}
            """;
        // Another seed that a double would not tell apart from the first.
        string otherSeed = job.Replace("9007199254740993", "9007199254740992", StringComparison.Ordinal);

        IntakeResult first = await pipeline.Intake.SubmitAsync(job, "delivery-1");
        IntakeResult same = await pipeline.Intake.SubmitAsync(reordered, "delivery-2");
        IntakeResult different = await pipeline.Intake.SubmitAsync(otherSeed, "delivery-3");

        Assert.Equal(IntakeOutcome.Accepted, first.Outcome);
        Assert.Equal((IntakeOutcome.Duplicate, "canonical"), (same.Outcome, same.JobId));
        Assert.Equal((IntakeOutcome.Rejected, "msg-delivery-3"), (different.Outcome, different.JobId));
        Assert.Contains("is taken", Assert.Single(different.Reasons), StringComparison.Ordinal);
        Assert.Single(await pipeline.DrainWorkQueueAsync());
    }

    [Fact]
    public async Task RedeliveryFinishesEnqueueingAfterACrashBeforeTheWorkWasSent()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        // A real failure between creating the status record and enqueueing: the work queue is gone.
        await pipeline.Storage.WorkQueue.DeleteAsync();

        await Assert.ThrowsAsync<RequestFailedException>(() => pipeline.Intake.SubmitAsync(TwentyImages, "delivery-1"));
        Assert.Equal(JobState.Queued, (await pipeline.Status.GetAsync("twenty"))?.State);

        await pipeline.Storage.WorkQueue.CreateAsync();
        IntakeResult redelivered = await pipeline.Intake.SubmitAsync(TwentyImages, "delivery-2");
        IntakeResult again = await pipeline.Intake.SubmitAsync(TwentyImages, "delivery-3");

        Assert.Equal(IntakeOutcome.Duplicate, redelivered.Outcome);
        Assert.True(redelivered.FinishedEnqueueing);
        Assert.False(again.FinishedEnqueueing);
        Assert.Equal(Enumerable.Range(0, 20), (await pipeline.DrainWorkQueueAsync()).SelectMany(w => w.Images).Select(i => i.Index).Order());
    }

    [Fact]
    public async Task RedeliveryEnqueuesOnlyTheWorkItemsAnInterruptedAttemptDidNotSend()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        await pipeline.Intake.SubmitAsync(TwentyImages);
        await pipeline.DrainWorkQueueAsync();
        // As if the first attempt had stopped after sending the first of its two work items.
        var store = new JobStatusStore(pipeline.Storage, TimeProvider.System, 10);
        await store.MergeAsync("twenty", new Dictionary<string, object?>
        {
            [nameof(JobStatusRecord.WorkItemsEnqueued)] = 1,
            [nameof(JobStatusRecord.WorkEnqueued)] = false,
        }, CancellationToken.None);

        IntakeResult redelivered = await pipeline.Intake.SubmitAsync(TwentyImages);

        Assert.True(redelivered.FinishedEnqueueing);
        WorkItem rest = Assert.Single(await pipeline.DrainWorkQueueAsync());
        Assert.Equal(Enumerable.Range(16, 4), rest.Images.Select(i => i.Index));
    }

    [Fact]
    public async Task StorageFailuresThrowSoTheHostRetries()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        await pipeline.Storage.JobsTable.DeleteAsync();

        await Assert.ThrowsAnyAsync<RequestFailedException>(() => pipeline.Intake.SubmitAsync(TwentyImages));
    }

    [Fact]
    public async Task LimitsAreOptions()
    {
        var limits = new GenerationJobLimits { MaxImagesPerJob = 8, MaxImagesPerWorkItem = 3 };
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite, limits: limits);
        await pipeline.RegisterModelAsync("fashion", "v1");

        IntakeResult tooMany = await pipeline.Intake.SubmitAsync(
            """{ "model": { "name": "fashion" }, "classes": [ { "label": 2, "count": 5 }, { "count": 5 } ], "steps": 4 }""");
        IntakeResult seven = await pipeline.Intake.SubmitAsync(
            """{ "model": { "name": "fashion" }, "classes": [ { "label": 2, "count": 7 } ], "steps": 4 }""");

        Assert.Equal(
            "The job asks for 10 images in all (the counts of $.classes add up to 10); the limit is 8 images per job.",
            Assert.Single(tooMany.Reasons));
        Assert.Equal(IntakeOutcome.Accepted, seven.Outcome);
        Assert.Equal([3, 3, 1], (await pipeline.DrainWorkQueueAsync()).OrderBy(w => w.Images[0].Index).Select(w => w.Images.Count));
    }

    [Fact]
    public async Task ModelWithoutClassCountAcceptsAnyLabel()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await pipeline.RegisterModelAsync("folder", "r1", numClasses: null);

        IntakeResult result = await pipeline.Intake.SubmitAsync(
            """{ "model": { "name": "folder" }, "classes": [ { "label": 999, "count": 1 } ], "steps": 4 }""");

        Assert.Equal(IntakeOutcome.Accepted, result.Outcome);
    }

    [Fact]
    public async Task ALoneSurrogateInTheMessageTextIsARejectionWithAReason()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        // Not a JSON escape: the message string itself holds an unpaired high surrogate.
        string job = "{ \"id\": \"lone\", \"model\": { \"name\": \"fashion\" }, \"classes\": [ { \"count\": 1 } ], \"steps\": 4, \"seed\": 1 }"
            .Replace("\"lone\"", "\"lo\uD800ne\"", StringComparison.Ordinal);

        IntakeResult result = await pipeline.Intake.SubmitAsync(job, "surrogate-message");

        Assert.Equal(IntakeOutcome.Rejected, result.Outcome);
        Assert.Contains(result.Reasons, r => r.Contains("The message is not valid UTF-16 text", StringComparison.Ordinal));
        Assert.All(result.Reasons, reason => Assert.Null(PrintableText.FirstUnsafe(reason)));
        Assert.Equal(JobState.Rejected, (await pipeline.Status.GetAsync(result.JobId))?.State);
        Assert.Empty(await pipeline.DrainWorkQueueAsync());
    }

    [Fact]
    public async Task ControlAndBidiCharactersAreEscapedInTheIntakesLogs()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        var logs = new TestLoggerProvider();
        var intake = new JobIntake(pipeline.Storage, pipeline.Registry, pipeline.Status, logger: logs.CreateLogger<JobIntake>());
        const string job = """
            { "id": "controls", "model": { "name": "fa\u0000shion\u001b[2J" }, "classes": [ { "count": 1 } ], "steps": 4,
              "priority": "\u202ehigh", "\u0007bell": 1 }
            """;

        IntakeResult result = await intake.SubmitAsync(job);

        Assert.Equal(IntakeOutcome.Rejected, result.Outcome);
        LoggedMessage rejection = Assert.Single(logs.Messages);
        Assert.Null(PrintableText.FirstUnsafe(rejection.Message));
        Assert.Contains("fa\\u0000shion\\u001b[2J", rejection.Message, StringComparison.Ordinal);
        Assert.Contains("\\u202ehigh", rejection.Message, StringComparison.Ordinal);
        Assert.Contains("$.\\u0007bell is not a known property", rejection.Message, StringComparison.Ordinal);
    }

    private async Task<TestPipeline> CreatePipelineAsync()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await pipeline.RegisterModelAsync("fashion", "v1");
        await pipeline.RegisterModelAsync("fashion", "v2");
        return pipeline;
    }
}
