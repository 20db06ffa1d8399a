using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Core.Training;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Core.Tests.Training;

/// <summary>Promotion of trained versions: the newer one wins whatever order the promoters write in.</summary>
public sealed class PromotionOrderTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static readonly DateTimeOffset Monday = new(2030, 1, 7, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task WithinARunTheHigherStepWinsAndALowerOneDoesNotOverwriteIt()
    {
        TestTraining training = await TestTraining.CreateAsync(azurite);

        PromotionResult step200 = await training.Registry.PromoteIfNewerAsync(Trained("r1", Monday, 200));
        PromotionResult step100 = await training.Registry.PromoteIfNewerAsync(Trained("r1", Monday, 100));
        PromotionResult again = await training.Registry.PromoteIfNewerAsync(Trained("r1", Monday, 200));

        Assert.True(step200.Promoted);
        Assert.False(step100.Promoted);
        Assert.Equal("r1-step-200", step100.Latest?.Manifest.Version);
        Assert.True(again.Promoted);
        Assert.Equal("r1-step-200", (await training.Registry.GetLatestAsync("fashion"))?.Manifest.Version);
        Assert.NotNull(await training.Registry.GetVersionAsync("fashion", "r1-step-100"));
    }

    [Fact]
    public async Task ARunLaunchedLaterWinsWhicheverFinishesFirst()
    {
        TestTraining training = await TestTraining.CreateAsync(azurite);

        PromotionResult later = await training.Registry.PromoteIfNewerAsync(Trained("tuesday", Monday.AddDays(1), 100));
        PromotionResult earlier = await training.Registry.PromoteIfNewerAsync(Trained("monday", Monday, 5000));

        Assert.True(later.Promoted);
        Assert.False(earlier.Promoted);
        Assert.Equal("tuesday-step-100", (await training.Registry.GetLatestAsync("fashion"))?.Manifest.Version);
        Assert.True(ModelRegistry.IsNewer(Trained("a", Monday, 1), new ModelManifest { Model = "fashion", Version = "manual", Checkpoint = "x", CreatedAt = Monday.AddSeconds(-1) }));
    }

    [Fact]
    public async Task OfConcurrentPromotersTheNewestEndsUpLatest()
    {
        TestTraining training = await TestTraining.CreateAsync(azurite);

        PromotionResult[] results = await Task.WhenAll(Enumerable.Range(1, 8)
            .Select(i => Task.Run(() => training.Registry.PromoteIfNewerAsync(Trained("r1", Monday, i * 100)))));

        Assert.Equal("r1-step-800", (await training.Registry.GetLatestAsync("fashion"))?.Manifest.Version);
        Assert.True(results[^1].Promoted);
    }

    private static ModelManifest Trained(string runId, DateTimeOffset launchedAt, long step) => new()
    {
        Model = "fashion",
        Version = TrainingBlobNames.VersionName(runId, step),
        Checkpoint = TrainingBlobNames.SamplingModel("fashion", runId, step),
        TrainedBy = new TrainingRunReference(runId, launchedAt, step),
    };
}
