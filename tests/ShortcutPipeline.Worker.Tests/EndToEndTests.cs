using System.Globalization;
using System.Text;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Model;
using ShortcutPipeline.Model.Imaging;
using ShortcutPipeline.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>
/// Acceptance, end to end: jobs put on the jobs queue (one as plain JSON text, one as base64) go through the
/// intake and the worker against a real Azurite and end as PNG blobs whose pixels are the sampler's output for
/// the same seeds, with the provenance text chunks.
/// </summary>
public sealed class EndToEndTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private const string PlainJob = """
        { "id": "plain-job", "model": { "name": "tiny" }, "classes": [ { "label": 3, "count": 3 }, { "count": 1 } ],
          "steps": 4, "seed": 7 }
        """;

    private const string Base64Job = """
        { "id": "base64-job", "model": { "name": "tiny", "version": "v1" }, "items": [ { "label": 1, "seed": 100 }, { "label": 9 } ],
          "steps": 1, "cfgScale": 2.5, "seed": 5 }
        """;

    [Fact]
    public async Task PlainAndBase64JobsOnTheQueueEndAsPngsWithTheSamplersPixels()
    {
        TestPipeline pipeline = await TestModels.PipelineWithTinyAsync(azurite);
        await pipeline.Storage.JobsQueue.SendMessageAsync(PlainJob);
        await pipeline.Storage.JobsQueue.SendMessageAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes(Base64Job)));

        var listener = new JobQueueListener(pipeline.Storage, pipeline.Intake, pollInterval: TimeSpan.FromMilliseconds(100));
        using var stopIntake = new CancellationTokenSource();
        Task intake = listener.RunAsync(stopIntake.Token);
        IReadOnlyList<JobStatus> statuses;
        await using (InProcessWorker worker = await InProcessWorker.StartAsync(pipeline))
        {
            statuses = await Wait.ForJobsAsync(pipeline, ["plain-job", "base64-job"]);
        }

        await stopIntake.CancelAsync();
        await intake;
        Assert.All(statuses, s => Assert.Equal(JobState.Completed, s.State));
        Assert.Equal(2, listener.MessagesTaken);
        Assert.Equal(0, (await pipeline.Storage.WorkQueue.GetPropertiesAsync()).Value.ApproximateMessagesCount);

        // The seeds the contract gives: job seed + index for classes, the item's seed or job seed + index for items.
        await AssertImagesAsync(pipeline, "plain-job", steps: 4, cfgScale: 1,
            [(3, 7), (3, 8), (3, 9), (null, 10)]);
        await AssertImagesAsync(pipeline, "base64-job", steps: 1, cfgScale: 2.5,
            [(1, 100), (9, 6)]);
    }

    private static async Task AssertImagesAsync(TestPipeline pipeline, string jobId, int steps, double cfgScale, (int? Label, long Seed)[] images)
    {
        Assert.Equal(images.Length, (await StoredImages.ListAsync(pipeline, jobId)).Count);
        using DiT model = Checkpoint.LoadForSampling(TestModels.Tiny);
        using var result = new ShortcutSampler(model).Sample(images.Select(i => new SampleRequest(i.Label, steps, cfgScale, i.Seed)).ToList());
        using Tensor expected = PixelDecoder.Instance.DecodeToBytes(result.Samples);
        for (int index = 0; index < images.Length; index++)
        {
            byte[] png = await StoredImages.ReadAsync(pipeline, jobId, index);
            using Image<L8> image = Image.Load<L8>(png);
            var pixels = new byte[image.Width * image.Height];
            image.CopyPixelDataTo(pixels);
            Assert.Equal((8, 8), (image.Width, image.Height));
            using Tensor row = expected[index].flatten();
            Assert.Equal(row.data<byte>().ToArray(), pixels);

            IReadOnlyDictionary<string, string> text = PngWriter.ReadTextChunks(png);
            Assert.Equal(jobId, text["jobId"]);
            Assert.Equal(index.ToString(CultureInfo.InvariantCulture), text["index"]);
            Assert.Equal(images[index].Seed.ToString(CultureInfo.InvariantCulture), text["seed"]);
            Assert.Equal(steps.ToString(CultureInfo.InvariantCulture), text["steps"]);
            Assert.Equal(images[index].Label is int label ? $"class-{label}" : "unconditional", text["class"]);
            Assert.Equal(cfgScale.ToString(CultureInfo.InvariantCulture), text["cfgScale"]);
            Assert.Equal(("tiny", "v1"), (text["model"], text["modelVersion"]));
        }

        // Different seeds and classes give different images: the comparison above is not of constants.
        Assert.True(expected[0].ne(expected[images.Length - 1]).any().item<bool>());
    }
}
