using System.Text;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Time.Testing;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Queues;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Core.Tests;

/// <summary>The receive, renew, retry and poison mechanics that the worker and the local intake share.</summary>
public sealed class QueueReceiverTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task AHeldMessageStaysInvisibleBeyondItsTimeoutBecauseTheLeaseRenewsIt()
    {
        PipelineStorage storage = await azurite.CreateStorageAsync();
        await storage.WorkQueue.SendMessageAsync("held");
        // 10 s, renewed every 5 s: the margin covers a test host whose thread pool is busy for seconds (a CI run of
        // every test on two cores once saw a renewal's answer about 5 s late, and the message lapsed under a 4 s timeout).
        var receiver = new QueueReceiver(storage.WorkQueue, storage.PoisonQueueOf(storage.WorkQueue),
            new QueueReceiverOptions { VisibilityTimeout = TimeSpan.FromSeconds(10) });

        QueueMessageLease lease = Assert.Single(await receiver.ReceiveAsync(32));
        await Wait.UntilAsync(() => lease.Renewals >= 2, TimeSpan.FromMinutes(1), () => $"{lease.Renewals} renewals");

        // More than one timeout has passed since the receive, yet nobody else gets it; a delete still works.
        Assert.Empty((await storage.WorkQueue.ReceiveMessagesAsync(32)).Value);
        await lease.DeleteAsync();
        Assert.False(lease.IsLost);
        Assert.Equal(0, await receiver.GetApproximateLengthAsync());
    }

    [Fact]
    public async Task ARenewalThatFailsIsTriedAgainWellBeforeTheNextIntervalSoThatAShortOutageDoesNotLapseTheMessage()
    {
        // Found by reading the renewal loop: after a renewal failed (storage down for longer than the client's own retries),
        // the next try came a whole interval later, half a timeout, just when the message lapsed: another worker could take
        // it and draw its images again. The lease's clock is a fake one that the test advances; storage is real, behind an
        // outage, and the client does not retry by itself.
        PipelineStorage storage = await azurite.CreateStorageAsync();
        using StorageOutage outage = azurite.CreateOutage();
        var queue = new QueueClient(outage.ConnectionString, storage.WorkQueue.Name,
            new QueueClientOptions { MessageEncoding = QueueMessageEncoding.None, Retry = { MaxRetries = 0 } });
        await queue.SendMessageAsync("held through an outage");
        var clock = new FakeTimeProvider();
        QueueMessage message = (await queue.ReceiveMessageAsync(TimeSpan.FromMinutes(1))).Value;
        await using QueueMessageLease lease = QueueMessageLease.Hold(queue, message, TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(30), clock);

        // The renewal at 30 s finds storage down.
        outage.Begin();
        int resetBefore = outage.ResetConnections;
        clock.Advance(TimeSpan.FromSeconds(30));
        await Wait.UntilAsync(() => outage.ResetConnections > resetBefore, TimeSpan.FromSeconds(30), () => "the renewal to reach the outage");
        outage.End();

        // Storage is back: the next try comes a quarter of the 30 s left of the timeout later (7.5 s), not 30 s later.
        TimeSpan sinceFailure = TimeSpan.Zero;
        while (lease.Renewals == 0 && sinceFailure < TimeSpan.FromSeconds(30))
        {
            clock.Advance(TimeSpan.FromMilliseconds(500));
            sinceFailure += TimeSpan.FromMilliseconds(500);
            await Task.Delay(100);   // real time for a renewal the advance started (a slow one only makes sinceFailure larger)
        }

        Assert.Equal(1, lease.Renewals);
        Assert.InRange(sinceFailure, TimeSpan.FromSeconds(7.5), TimeSpan.FromSeconds(15));
        await lease.DeleteAsync();
        Assert.False(lease.IsLost);
        Assert.Empty((await storage.WorkQueue.PeekMessagesAsync(32)).Value);
    }

    [Fact]
    public async Task AReleasedMessageIsVisibleAgainAtOnceAndAFinishedLeaseIgnoresLaterCalls()
    {
        PipelineStorage storage = await azurite.CreateStorageAsync();
        await storage.WorkQueue.SendMessageAsync("released");
        var receiver = new QueueReceiver(storage.WorkQueue, storage.PoisonQueueOf(storage.WorkQueue), new QueueReceiverOptions());

        QueueMessageLease first = Assert.Single(await receiver.ReceiveAsync(32));
        await first.ReleaseAsync(TimeSpan.Zero);
        await first.DeleteAsync();   // finished already: nothing happens
        QueueMessageLease second = Assert.Single(await receiver.ReceiveAsync(32));

        Assert.Equal(("released", 2L), (second.Text, second.DequeueCount));
        await second.DeleteAsync();
        await first.DisposeAsync();
        await second.DisposeAsync();
    }

    [Fact]
    public async Task FailuresAreRetriedThenPoisonedWithTheOriginalTextAndTheReason()
    {
        PipelineStorage storage = await azurite.CreateStorageAsync();
        await storage.WorkQueue.SendMessageAsync("keeps failing");
        var poisoned = new List<(string Text, string Reason)>();
        var receiver = new QueueReceiver(storage.WorkQueue, storage.PoisonQueueOf(storage.WorkQueue),
            new QueueReceiverOptions { MaxDequeueCount = 2, RetryDelay = TimeSpan.Zero },
            (lease, reason, _) => { poisoned.Add((lease.Text, reason)); return Task.CompletedTask; });

        Assert.False(await receiver.FailAsync(Assert.Single(await receiver.ReceiveAsync(32)), new InvalidOperationException("first")));
        Assert.True(await receiver.FailAsync(Assert.Single(await receiver.ReceiveAsync(32)), new InvalidOperationException("second")));

        Assert.Equal(0, await receiver.GetApproximateLengthAsync());
        PoisonMessage envelope = await SinglePoisonMessageAsync(storage);
        Assert.Equal(("keeps failing", 2L, storage.Options.WorkQueue), (envelope.Message, envelope.DequeueCount, envelope.Queue));
        Assert.Equal("Failed on each of 2 deliveries; the last error: InvalidOperationException: second", envelope.Reason);
        Assert.Equal([("keeps failing", envelope.Reason)], poisoned);
    }

    [Fact]
    public async Task AFailureThatIsAStorageOutageNeitherCountsAgainstTheMessageNorPoisonsItAndItShowsAgainAfterItsTimeout()
    {
        // Found by the outage test: a work item admitted just before storage went away failed its status check,
        // was counted as a failed delivery (a warning per message, poisoned on its last delivery) and then could
        // not be released either (an error per message).
        PipelineStorage storage = await azurite.CreateStorageAsync();
        await storage.WorkQueue.SendMessageAsync("admitted as storage went away");
        var poisoned = new List<string>();
        var logs = new TestLoggerProvider();
        var receiver = new QueueReceiver(storage.WorkQueue, storage.PoisonQueueOf(storage.WorkQueue),
            new QueueReceiverOptions { MaxDequeueCount = 1, RetryDelay = TimeSpan.Zero, VisibilityTimeout = TimeSpan.FromSeconds(6) },
            (lease, reason, _) => { poisoned.Add(reason); return Task.CompletedTask; }, logger: logs.CreateLogger("receiver"));
        var outage = new AggregateException(
            new Azure.RequestFailedException("Connection reset by peer (127.0.0.1:10001)", new HttpRequestException("reset")),
            new Azure.RequestFailedException("Connection refused (127.0.0.1:10001)"));

        QueueMessageLease lease = Assert.Single(await receiver.ReceiveAsync(32));
        Assert.False(await receiver.FailAsync(lease, outage));

        Assert.Empty(poisoned);
        Assert.Empty((await storage.WorkQueue.ReceiveMessagesAsync(32)).Value);   // not released: it waits out its timeout
        Assert.DoesNotContain(logs.Messages, m => m.Level >= Microsoft.Extensions.Logging.LogLevel.Warning);
        await Wait.UntilAsync(async () => (await storage.WorkQueue.PeekMessagesAsync(32)).Value.Length == 1, TimeSpan.FromSeconds(30), () => Task.FromResult("the message to show again"));
    }

    [Fact]
    public async Task AMessageReceivedTooOftenIsPoisonedBeforeTheCallerSeesIt()
    {
        PipelineStorage storage = await azurite.CreateStorageAsync();
        await storage.WorkQueue.SendMessageAsync("its receivers crash");
        var receiver = new QueueReceiver(storage.WorkQueue, storage.PoisonQueueOf(storage.WorkQueue), new QueueReceiverOptions { MaxDequeueCount = 1 });

        // A receiver that dies: it never finishes the message, which comes back (here: at once).
        QueueMessage taken = Assert.Single((await storage.WorkQueue.ReceiveMessagesAsync(1, TimeSpan.FromSeconds(30))).Value);
        await storage.WorkQueue.UpdateMessageAsync(taken.MessageId, taken.PopReceipt, visibilityTimeout: TimeSpan.Zero);

        Assert.Empty(await receiver.ReceiveAsync(32));
        PoisonMessage envelope = await SinglePoisonMessageAsync(storage);
        Assert.Equal(("its receivers crash", 2L), (envelope.Message, envelope.DequeueCount));
        Assert.StartsWith("Received 2 times, more than the 1 allowed", envelope.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void AnEnvelopeTooBigForAQueueMessageFallsBackToTheOriginalText()
    {
        string big = new('x', PoisonMessage.MaxQueueMessageBytes - 10);
        var envelope = new PoisonMessage
        {
            Reason = "too big", Queue = "q", MessageId = "m", DequeueCount = 1, PoisonedAt = DateTimeOffset.UnixEpoch, Message = big,
        };
        var small = envelope with { Message = "{\"a\":1}" };

        Assert.Equal(big, envelope.ToQueueText());
        Assert.Null(PoisonMessage.TryParse(big));
        Assert.Equal(small, PoisonMessage.TryParse(small.ToQueueText()));
    }

    [Fact]
    public async Task TheJobsQueueListenerTakesPlainAndBase64JobsAndDeletesTheirMessages()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await pipeline.RegisterModelAsync("fashion", "v1");
        await pipeline.Storage.JobsQueue.SendMessageAsync("""{ "id": "plain", "model": { "name": "fashion" }, "classes": [ { "count": 1 } ], "steps": 1 }""");
        await pipeline.Storage.JobsQueue.SendMessageAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes(
            """{ "id": "encoded", "model": { "name": "fashion" }, "classes": [ { "count": 1 } ], "steps": 1 }""")));
        await pipeline.Storage.JobsQueue.SendMessageAsync("not a job");
        var listener = new JobQueueListener(pipeline.Storage, pipeline.Intake);

        int taken = await listener.TakeAvailableAsync();

        Assert.Equal((3, 3), (taken, listener.MessagesTaken));
        Assert.Equal(JobState.Queued, (await pipeline.Status.GetAsync("plain"))?.State);
        Assert.Equal(JobState.Queued, (await pipeline.Status.GetAsync("encoded"))?.State);
        Assert.Equal(0, (await pipeline.Storage.JobsQueue.GetPropertiesAsync()).Value.ApproximateMessagesCount);
        Assert.Equal(2, (await pipeline.DrainWorkQueueAsync()).Count);
    }

    private static async Task<PoisonMessage> SinglePoisonMessageAsync(PipelineStorage storage)
    {
        QueueClient poison = storage.PoisonQueueOf(storage.WorkQueue);
        PeekedMessage message = Assert.Single((await poison.PeekMessagesAsync(32)).Value);
        return PoisonMessage.TryParse(message.Body.ToString()) ?? throw new Xunit.Sdk.XunitException($"Not an envelope: {message.Body}");
    }
}
