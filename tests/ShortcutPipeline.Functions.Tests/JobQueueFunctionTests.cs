using System.Text;
using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.Logging.Abstractions;
using ShortcutPipeline.Core.Contracts;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Functions.Tests;

/// <summary>The queue-triggered intake, fed with real messages received from the Azurite jobs queue.</summary>
public sealed class JobQueueFunctionTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private const string Job = """{ "id": "queued-1", "model": { "name": "fashion" }, "classes": [ { "label": 4, "count": 20 } ], "steps": 2 }""";

    [Fact]
    public async Task PlainTextMessageBecomesAJobWithWork()
    {
        (TestPipeline pipeline, JobQueueFunction function) = await CreateAsync();
        await pipeline.Storage.JobsQueue.SendMessageAsync(Job);

        await function.RunAsync(await ReceiveAsync(pipeline.Storage.JobsQueue), CancellationToken.None);

        Assert.Equal(JobState.Queued, (await pipeline.Status.GetAsync("queued-1"))?.State);
        IReadOnlyList<WorkItem> work = await pipeline.DrainWorkQueueAsync();
        Assert.Equal(20, work.Sum(w => w.Images.Count));
    }

    [Fact]
    public async Task Base64MessageFromAnEncodingClientIsAcceptedToo()
    {
        (TestPipeline pipeline, JobQueueFunction function) = await CreateAsync();
        var encodingClient = new QueueClient(
            azurite.ConnectionString, pipeline.Storage.Options.JobsQueue, new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 });
        await encodingClient.SendMessageAsync(Job);

        QueueMessage message = await ReceiveAsync(pipeline.Storage.JobsQueue);
        Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes(Job)), message.Body.ToString());
        await function.RunAsync(message, CancellationToken.None);

        Assert.Equal(JobState.Queued, (await pipeline.Status.GetAsync("queued-1"))?.State);
    }

    [Fact]
    public async Task InvalidMessageIsRecordedAsRejectedAndTheFunctionReturnsNormally()
    {
        (TestPipeline pipeline, JobQueueFunction function) = await CreateAsync();
        await pipeline.Storage.JobsQueue.SendMessageAsync("""{ "model": { "name": "fashion" }, "classes": [ { "count": 2 } ], "steps": 5 }""");
        QueueMessage message = await ReceiveAsync(pipeline.Storage.JobsQueue);

        await function.RunAsync(message, CancellationToken.None);

        JobStatus? status = await pipeline.Status.GetAsync("msg-" + message.MessageId);
        Assert.Equal(JobState.Rejected, status?.State);
        Assert.Contains("$.steps must be a power of two", Assert.Single(status!.Reasons), StringComparison.Ordinal);
        Assert.Empty(await pipeline.DrainWorkQueueAsync());
    }

    [Fact]
    public async Task StorageFailureThrowsSoTheHostRetries()
    {
        (TestPipeline pipeline, JobQueueFunction function) = await CreateAsync();
        await pipeline.Storage.JobsQueue.SendMessageAsync(Job);
        QueueMessage message = await ReceiveAsync(pipeline.Storage.JobsQueue);
        await pipeline.Storage.WorkQueue.DeleteAsync();

        await Assert.ThrowsAnyAsync<RequestFailedException>(() => function.RunAsync(message, CancellationToken.None));

        // The retry (after the queue is back) finishes the job's intake.
        await pipeline.Storage.WorkQueue.CreateAsync();
        await function.RunAsync(message, CancellationToken.None);
        Assert.Equal(20, (await pipeline.DrainWorkQueueAsync()).Sum(w => w.Images.Count));
    }

    private async Task<(TestPipeline, JobQueueFunction)> CreateAsync()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await pipeline.RegisterModelAsync("fashion", "v1");
        return (pipeline, new JobQueueFunction(pipeline.Intake, NullLogger<JobQueueFunction>.Instance));
    }

    private static async Task<QueueMessage> ReceiveAsync(QueueClient queue) =>
        (await queue.ReceiveMessageAsync()).Value ?? throw new InvalidOperationException("The queue is empty.");
}
