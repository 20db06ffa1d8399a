using System.Globalization;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Logging;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Testing;
using Xunit.Abstractions;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>
/// Acceptance, outage: the storage account is unreachable for 60 s while users keep sending jobs (they reach the jobs
/// queue; the apps do not) and the intake loop and the worker are busy with the ones before. Afterwards every job that
/// was sent has been accepted and has completed, with exactly one image per index, each written once; nothing was
/// poisoned; the intake loop logged the outage once and is still running.
/// </summary>
public sealed class OutageTests(AzuriteFixture azurite, ITestOutputHelper output) : IClassFixture<AzuriteFixture>
{
    // What the test is about, not a wait for anything: the outage lasts this long, whatever the loops do meanwhile.
    private static readonly TimeSpan OutageLength = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan SendInterval = TimeSpan.FromMilliseconds(400);
    private const int ImagesPerJob = 4;

    // Sent at once at the start, so that the outage finds the intake and the worker busy with a backlog.
    private const int FirstBurst = 40;

    [Fact]
    public async Task EveryJobSentAroundASixtySecondStorageOutageIsAcceptedAndCompletesWithEachImageWrittenOnce()
    {
        TestPipeline users = await TestModels.PipelineWithTinyAsync(azurite);
        using StorageOutage outage = azurite.CreateOutage();
        TestPipeline apps = TestPipeline.Over(outage.Reach(users.Storage));
        var logs = new TestLoggerProvider();
        var listener = new JobQueueListener(
            apps.Storage, apps.Intake, pollInterval: TimeSpan.FromMilliseconds(100), logger: logs.CreateLogger<JobQueueListener>(),
            maxOutageDelay: TimeSpan.FromSeconds(5));
        using var stopIntake = new CancellationTokenSource();
        Task intake = listener.RunAsync(stopIntake.Token);
        var sent = new List<string>();
        var timeline = new List<string>();
        IReadOnlyList<JobStatus> statuses;
        var workerLogs = new TestLoggerProvider();
        await using (InProcessWorker worker = await InProcessWorker.StartAsync(apps, logger: workerLogs.CreateLogger<WorkerService>()))
        {
            using var stopSending = new CancellationTokenSource();
            Task sending = SendJobsAsync(users, sent, stopSending.Token);
            await WaitForCompletedAsync(users, sent, atLeast: 5);
            timeline.Add($"outage began with {Count(sent)} jobs sent, {await CountCompletedAsync(users, sent)} completed");
            outage.Begin();
            await Task.Delay(OutageLength);
            outage.End();
            int sentDuringOutage = Count(sent);
            timeline.Add($"outage ended with {sentDuringOutage} jobs sent, {outage.ResetConnections} connections reset");
            await Wait.UntilAsync(() => Count(sent) >= sentDuringOutage + 10, Wait.Long, () => "the users could not send");
            await stopSending.CancelAsync();
            await sending;
            statuses = await Wait.ForJobsAsync(users, Snapshot(sent), TimeSpan.FromMinutes(6));
            timeline.Add($"all {statuses.Count} jobs finished");
        }

        Assert.False(intake.IsCompleted, "the intake loop ended");
        await stopIntake.CancelAsync();
        await intake;

        Figures figures = await CountAsync(users, statuses) with { MessagesTaken = listener.MessagesTaken };
        output.WriteLine(string.Join(Environment.NewLine, timeline));
        output.WriteLine(figures.ToString());
        Assert.Equal(statuses.Count, figures.Accepted);
        Assert.Equal(statuses.Count, figures.Completed);
        Assert.Equal((0, 0, 0), (figures.Lost, figures.ImagesWrittenTwice, figures.Poisoned));
        Assert.Single(logs.Messages, m => m.Level == LogLevel.Warning && m.Message.Contains("storage is unreachable", StringComparison.Ordinal));
        Assert.Contains(logs.Messages, m => m.Message.Contains("storage is reachable again", StringComparison.Ordinal));
        // The worker too: each of its stages that met the outage says so once (and once that it is over), and nothing else.
        List<LoggedMessage> warnings = workerLogs.Messages.Where(m => m.Level >= LogLevel.Warning).ToList();
        output.WriteLine(string.Join(Environment.NewLine, warnings.Select(m => $"{m.Level}: {m.Message}")));
        Assert.NotEmpty(warnings);
        Assert.All(warnings, m => Assert.Contains("storage is unreachable", m.Message, StringComparison.Ordinal));
        Assert.Equal(warnings.Count, warnings.Select(m => m.Message.Split(':')[0]).Distinct().Count());
    }

    // FirstBurst jobs of ImagesPerJob images at once, then one every SendInterval, straight onto the jobs queue, until cancelled.
    private static async Task SendJobsAsync(TestPipeline users, List<string> sent, CancellationToken cancellationToken)
    {
        for (int i = 0; !cancellationToken.IsCancellationRequested; i++)
        {
            if (i >= FirstBurst)
            {
                try
                {
                    await Task.Delay(SendInterval, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            string id = string.Create(CultureInfo.InvariantCulture, $"outage-{i:D4}");
            await users.Storage.JobsQueue.SendMessageAsync(string.Create(CultureInfo.InvariantCulture,
                $$"""{ "id": "{{id}}", "model": { "name": "tiny" }, "classes": [ { "label": {{i % 10}}, "count": {{ImagesPerJob}} } ], "steps": 4, "seed": {{i}} }"""),
                CancellationToken.None);
            lock (sent)
            {
                sent.Add(id);
            }
        }
    }

    private static Task WaitForCompletedAsync(TestPipeline users, List<string> sent, int atLeast) =>
        Wait.UntilAsync(
            async () => await CountCompletedAsync(users, sent) >= atLeast,
            Wait.Long, () => Task.FromResult($"fewer than {atLeast} jobs completed before the outage"));

    private static async Task<int> CountCompletedAsync(TestPipeline users, List<string> sent) =>
        (await Task.WhenAll(Snapshot(sent).Select(id => users.Status.GetAsync(id)))).Count(s => s?.State == JobState.Completed);

    private static async Task<Figures> CountAsync(TestPipeline users, IReadOnlyList<JobStatus> statuses)
    {
        int writtenTwice = 0;
        int wrongImages = 0;
        foreach (JobStatus status in statuses)
        {
            IReadOnlyList<BlobItem> blobs = await StoredImages.ListAsync(users, status.Id);

            // Written once: a blob that a redelivery replaced would have been modified after it was created.
            writtenTwice += blobs.Count(b => b.Properties.CreatedOn != b.Properties.LastModified);
            IEnumerable<string> expected = Enumerable.Range(0, ImagesPerJob).Select(i => Core.ImageBlobNames.For(status.Id, i));
            wrongImages += blobs.Select(b => b.Name).Except(expected).Count() + expected.Except(blobs.Select(b => b.Name)).Count();
        }

        int poisoned = (await users.Storage.PoisonQueueOf(users.Storage.JobsQueue).GetPropertiesAsync()).Value.ApproximateMessagesCount
            + (await users.Storage.PoisonQueueOf(users.Storage.WorkQueue).GetPropertiesAsync()).Value.ApproximateMessagesCount;
        return new Figures(
            Sent: statuses.Count,
            Accepted: statuses.Count(s => s.State != JobState.Rejected),
            Completed: statuses.Count(s => s.State == JobState.Completed && s.DoneImages == ImagesPerJob),
            Lost: statuses.Count(s => s.State != JobState.Completed) + wrongImages,
            ImagesWrittenTwice: writtenTwice,
            Poisoned: poisoned);
    }

    private static int Count(List<string> sent)
    {
        lock (sent)
        {
            return sent.Count;
        }
    }

    private static string[] Snapshot(List<string> sent)
    {
        lock (sent)
        {
            return [.. sent];
        }
    }

    /// <summary>What the outage did: <see cref="MessagesTaken"/> above <see cref="Sent"/> counts deliveries the intake saw again.</summary>
    private sealed record Figures(int Sent, int Accepted, int Completed, int Lost, int ImagesWrittenTwice, int Poisoned, int MessagesTaken = 0);
}
