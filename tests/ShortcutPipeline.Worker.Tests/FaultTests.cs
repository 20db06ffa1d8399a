using System.Globalization;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Queues.Models;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>
/// Acceptance, fault: the worker runs as its own process. Killed (SIGKILL) while it draws and started again, it
/// completes every job with exactly one image per item. Stopped with SIGTERM, it finishes and stores the rows in
/// flight and hands back the work items it had not started.
/// </summary>
public sealed class FaultTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private const int ImagesPerJob = 8;

    [Fact]
    public async Task AWorkerKilledWhileItDrawsAndRestartedCompletesEveryJobWithOneImagePerItem()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await TestModels.RegisterAsync(pipeline, TestModels.Slow, "slow");
        string[] jobIds = ["first", "second", "third"];
        foreach (string id in jobIds)
        {
            await SubmitAsync(pipeline, id, steps: 64);
        }

        using (var cache = new TempDirectory("worker-process-cache-"))
        {
            Dictionary<string, string> settings = Settings(cache.Path, visibilityTimeout: "00:00:04");
            HostProcess killed = WorkerProcess.Start(azurite.ConnectionString, pipeline.Storage.Options, settings);
            await using (killed)
            {
                // The first job is stored and the second one's rows are in the middle of their steps.
                await killed.WaitForOutputAsync("Finished a work item of job", Wait.Long);
                await Wait.UntilAsync(() => StartLines(killed.Output) >= 2, Wait.Long, () => killed.Output);
                killed.Kill();
            }

            JobStatus?[] afterKill = await Task.WhenAll(jobIds.Select(id => pipeline.Status.GetAsync(id)));
            Assert.Contains(afterKill, s => s!.State != JobState.Completed);   // the kill did interrupt work

            await using (HostProcess restarted = WorkerProcess.Start(azurite.ConnectionString, pipeline.Storage.Options, settings))
            {
                IReadOnlyList<JobStatus> statuses = await Wait.ForJobsAsync(pipeline, jobIds);
                Assert.All(statuses, s => Assert.Equal((JobState.Completed, ImagesPerJob), (s.State, s.DoneImages)));
            }
        }

        await AssertEachImageStoredOnceAndNoWorkLeftAsync(pipeline, jobIds.Select(id => (id, ImagesPerJob)));
    }

    [Fact]
    public async Task OnSigtermTheWorkerStoresTheRowsInFlightAndReleasesTheRest()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await TestModels.RegisterAsync(pipeline, TestModels.Slow, "slow");
        await SubmitAsync(pipeline, "budget-64", steps: 64);
        await SubmitAsync(pipeline, "budget-32", steps: 32);
        string output;
        using (var cache = new TempDirectory("worker-process-cache-"))
        {
            // A long visibility timeout: a work item seen again at once was handed back, not left to lapse.
            await using HostProcess worker = WorkerProcess.Start(
                azurite.ConnectionString, pipeline.Storage.Options, Settings(cache.Path, visibilityTimeout: "00:05:00"));
            // A row limit of 8: one job's rows fill the passes, the other's wait.
            await worker.WaitForOutputAsync("Started 8 rows of job", Wait.Long);
            await worker.TerminateAsync();
            Assert.Equal(0, await worker.WaitForExitAsync(Wait.Long));
            output = worker.Output;
        }

        Assert.Equal(1, StartLines(output));
        Assert.Contains("Finished a work item of job", output, StringComparison.Ordinal);
        Assert.Contains("released 1 work items", output, StringComparison.Ordinal);
        JobStatus?[] statuses = await Task.WhenAll(new[] { "budget-64", "budget-32" }.Select(id => pipeline.Status.GetAsync(id)));
        JobStatus done = Assert.Single(statuses, s => s!.State == JobState.Completed)!;
        JobStatus waiting = Assert.Single(statuses, s => s!.State == JobState.Queued)!;
        Assert.Equal(ImagesPerJob, (await StoredImages.ListAsync(pipeline, done.Id)).Count);
        Assert.Empty(await StoredImages.ListAsync(pipeline, waiting.Id));

        QueueMessage released = Assert.Single((await pipeline.Storage.WorkQueue.ReceiveMessagesAsync(32)).Value);
        Assert.Contains($"\"jobId\":\"{waiting.Id}\"", released.Body.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMixedBudgetLoadThroughKillsAndAStopCompletesEveryJobWithOneImagePerIndexAndNothingWrittenTwice()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await TestModels.RegisterAsync(pipeline, TestModels.Slow, "slow");
        int[] budgets = [1, 4, 16, 64];
        var jobs = Enumerable.Range(0, 16).Select(i => (Id: string.Create(CultureInfo.InvariantCulture, $"mixed-{i}"), Steps: budgets[i % 4], Images: 3 + (i % 5))).ToList();
        foreach ((string id, int steps, int images) in jobs)
        {
            string json = string.Create(CultureInfo.InvariantCulture,
                $$"""{ "id": "{{id}}", "model": { "name": "slow" }, "classes": [ { "count": {{images}} } ], "steps": {{steps}}, "seed": 5 }""");
            Assert.Equal(IntakeOutcome.Accepted, (await pipeline.Intake.SubmitAsync(json)).Outcome);
        }

        using (var cache = new TempDirectory("worker-process-cache-"))
        {
            Dictionary<string, string> settings = Settings(cache.Path, visibilityTimeout: "00:00:04");
            // Killed twice while rows of several budgets share its passes, then stopped with SIGTERM, then left to finish.
            for (int round = 1; round <= 3; round++)
            {
                HostProcess worker = WorkerProcess.Start(azurite.ConnectionString, pipeline.Storage.Options, settings);
                await using (worker)
                {
                    int done = (await StatusesAsync(pipeline, jobs.Select(j => j.Id))).Count(s => s.State == JobState.Completed);
                    await Wait.UntilAsync(async () => (await StatusesAsync(pipeline, jobs.Select(j => j.Id))).Count(s => s.State == JobState.Completed) > done,
                        Wait.Long, () => Task.FromResult(worker.Output));
                    if (round < 3)
                    {
                        worker.Kill();
                    }
                    else
                    {
                        await worker.TerminateAsync();
                        Assert.Equal(0, await worker.WaitForExitAsync(Wait.Long));
                    }
                }
            }

            await using (HostProcess last = WorkerProcess.Start(azurite.ConnectionString, pipeline.Storage.Options, settings))
            {
                IReadOnlyList<JobStatus> statuses = await Wait.ForJobsAsync(pipeline, jobs.Select(j => j.Id).ToList());
                Assert.All(statuses.Zip(jobs), p => Assert.Equal((JobState.Completed, p.Second.Images), (p.First.State, p.First.DoneImages)));
            }
        }

        await AssertEachImageStoredOnceAndNoWorkLeftAsync(pipeline, jobs.Select(job => (job.Id, job.Images)));
    }

    // Every image of every job is in the images container, written once (never replaced by a redelivery), and no work
    // item is left in the work queue or its poison queue.
    private static async Task AssertEachImageStoredOnceAndNoWorkLeftAsync(TestPipeline pipeline, IEnumerable<(string Id, int Images)> jobs)
    {
        foreach ((string id, int images) in jobs)
        {
            IReadOnlyList<BlobItem> blobs = await StoredImages.ListAsync(pipeline, id);
            Assert.Equal(
                Enumerable.Range(0, images).Select(i => string.Create(CultureInfo.InvariantCulture, $"{id}/{i}.png")).Order(StringComparer.Ordinal),
                blobs.Select(b => b.Name).Order(StringComparer.Ordinal));
            Assert.All(blobs, b => Assert.Equal(b.Properties.CreatedOn, b.Properties.LastModified));
        }

        Assert.Equal(0, (await pipeline.Storage.WorkQueue.GetPropertiesAsync()).Value.ApproximateMessagesCount);
        Assert.Empty((await pipeline.Storage.PoisonQueueOf(pipeline.Storage.WorkQueue).PeekMessagesAsync(32)).Value);
    }

    private static async Task<JobStatus[]> StatusesAsync(TestPipeline pipeline, IEnumerable<string> ids) =>
        (await Task.WhenAll(ids.Select(id => pipeline.Status.GetAsync(id))))!;

    private static async Task SubmitAsync(TestPipeline pipeline, string id, int steps)
    {
        string json = string.Create(CultureInfo.InvariantCulture,
            $$"""{ "id": "{{id}}", "model": { "name": "slow" }, "classes": [ { "count": {{ImagesPerJob}} } ], "steps": {{steps}}, "seed": 11 }""");
        Assert.Equal(IntakeOutcome.Accepted, (await pipeline.Intake.SubmitAsync(json)).Outcome);
    }

    // How many times the worker said it started rows of a job.
    private static int StartLines(string output) => output.Split("Started 8 rows of job").Length - 1;

    private static Dictionary<string, string> Settings(string cache, string visibilityTimeout) => new()
    {
        [nameof(WorkerOptions.Device)] = "cpu",
        [nameof(WorkerOptions.MaxRowsPerPass)] = "8",
        [nameof(WorkerOptions.PollInterval)] = "00:00:00.2",
        [nameof(WorkerOptions.VisibilityTimeout)] = visibilityTimeout,
        [nameof(WorkerOptions.ModelCacheDirectory)] = cache,
    };
}
