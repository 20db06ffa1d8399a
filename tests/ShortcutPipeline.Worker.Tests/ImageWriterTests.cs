using ShortcutPipeline.Core.Contracts;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Model;
using ShortcutPipeline.Model.Imaging;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>Images are written once: a redelivered work item never replaces an image with a second, different one.</summary>
public sealed class ImageWriterTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task AnExistingImageIsKeptAndCountsAsWritten()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        var writer = new ImageWriter(pipeline.Storage);

        Assert.Equal(ImageWriteOutcome.Written, await writer.WriteAsync("job", 0, [1, 2, 3]));
        Assert.Equal(ImageWriteOutcome.AlreadyExisted, await writer.WriteAsync("job", 0, [4, 5, 6, 7]));

        Assert.Equal([1, 2, 3], await StoredImages.ReadAsync(pipeline, "job", 0));
    }

    [Fact]
    public async Task ARedeliveredWorkItemLeavesTheFirstImagesAndCompletesTheJobOnce()
    {
        TestPipeline pipeline = await TestModels.PipelineWithTinyAsync(azurite);
        Assert.Equal(IntakeOutcome.Accepted, (await pipeline.Intake.SubmitAsync(
            """{ "id": "twice", "model": { "name": "tiny" }, "classes": [ { "label": 4, "count": 2 } ], "steps": 2, "seed": 3 }""")).Outcome);
        // The same work item a second time, as a redelivery after a crash would bring it; image 1 "exists" from before.
        string workItem = (await pipeline.Storage.WorkQueue.PeekMessageAsync()).Value.Body.ToString();
        await pipeline.Storage.WorkQueue.SendMessageAsync(workItem);
        byte[] earlier = PngWriter.Encode(new byte[64], 8, 8, 1);
        await new ImageWriter(pipeline.Storage).WriteAsync("twice", 1, earlier);

        await using (InProcessWorker worker = await InProcessWorker.StartAsync(pipeline))
        {
            await Wait.ForJobsAsync(pipeline, ["twice"]);
            await Wait.UntilAsync(async () => (await pipeline.Storage.WorkQueue.GetPropertiesAsync()).Value.ApproximateMessagesCount == 0,
                Wait.Long, () => Task.FromResult("work items left on the queue"));
        }

        JobStatus status = (await pipeline.Status.GetAsync("twice"))!;
        Assert.Equal((JobState.Completed, 2), (status.State, status.DoneImages));
        Assert.Equal(2, (await StoredImages.ListAsync(pipeline, "twice")).Count);
        Assert.Equal(earlier, await StoredImages.ReadAsync(pipeline, "twice", 1));
        Assert.Equal("twice", PngWriter.ReadTextChunks(await StoredImages.ReadAsync(pipeline, "twice", 0))["jobId"]);
    }

    [Fact]
    public void TextChunksNameTheClassAndCarryTheProvenance()
    {
        var item = new WorkItem
        {
            JobId = "j", Model = "fashion", ModelVersion = "v3", Steps = 4, CfgScale = 1.5, Images = [new ImageRequest(2, 1, 44)],
        };
        DiTConfig config = DiT.Tiny(8) with { ClassNames = ["T-shirt/top", "Trouser"], NumClasses = 2 };

        IReadOnlyDictionary<string, string> text = ImageWriter.TextChunks(item, item.Images[0], config);

        Assert.Equal(new Dictionary<string, string>
        {
            ["jobId"] = "j", ["index"] = "2", ["seed"] = "44", ["steps"] = "4", ["class"] = "Trouser", ["label"] = "1",
            ["cfgScale"] = "1.5", ["model"] = "fashion", ["modelVersion"] = "v3",
        }, text);
        Assert.Equal("unconditional", ImageWriter.ClassName(null, config));
        Assert.Equal("7", ImageWriter.ClassName(7, DiT.Tiny(8)));
    }
}
