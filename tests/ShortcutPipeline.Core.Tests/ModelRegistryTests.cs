using System.Text.Json;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Core.Tests;

public sealed class ModelRegistryTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task APromoterWithAStaleETagLoses()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await pipeline.RegisterModelAsync("fashion", "v1");
        ModelManifestEntry seenByA = (await pipeline.Registry.GetLatestAsync("fashion"))!;
        ModelManifestEntry seenByB = (await pipeline.Registry.GetLatestAsync("fashion"))!;

        PromotionResult a = await pipeline.Registry.PromoteAsync(Manifest("v2"), seenByA.ETag);
        PromotionResult b = await pipeline.Registry.PromoteAsync(Manifest("v3"), seenByB.ETag);

        Assert.True(a.Promoted);
        Assert.False(b.Promoted);
        Assert.Equal("v2", b.Latest?.Manifest.Version);
        Assert.Equal("v2", (await pipeline.Registry.GetLatestAsync("fashion"))?.Manifest.Version);
        // The loser's version is registered (pinnable) even though it is not the latest.
        Assert.Equal("fashion/v3/model.safetensors", (await pipeline.Registry.GetVersionAsync("fashion", "v3"))?.Checkpoint);
    }

    [Fact]
    public async Task OfConcurrentFirstPromotionsExactlyOneWins()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);

        PromotionResult[] results = await Task.WhenAll(Enumerable.Range(0, 8)
            .Select(i => Task.Run(() => pipeline.Registry.PromoteAsync(Manifest($"r{i}"), expectedLatest: null))));

        PromotionResult winner = Assert.Single(results, r => r.Promoted);
        Assert.All(results, r => Assert.Equal(winner.Latest?.Manifest.Version, r.Latest?.Manifest.Version));
        Assert.Equal(winner.Latest?.ETag, (await pipeline.Registry.GetLatestAsync("fashion"))?.ETag);
    }

    [Fact]
    public async Task VersionsAreImmutable()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await pipeline.Registry.RegisterVersionAsync(Manifest("v1"));

        ModelManifest same = await pipeline.Registry.RegisterVersionAsync(Manifest("v1"));
        await Assert.ThrowsAsync<InvalidOperationException>(
            () => pipeline.Registry.RegisterVersionAsync(Manifest("v1") with { Checkpoint = "fashion/other.safetensors" }));

        Assert.Equal("fashion/v1/model.safetensors", same.Checkpoint);
        Assert.Null(await pipeline.Registry.GetLatestAsync("fashion"));
        Assert.Null(await pipeline.Registry.GetVersionAsync("fashion", "v9"));
        Assert.Null(await pipeline.Registry.ResolveAsync("other", null));
    }

    [Fact]
    public async Task UploadAndPromoteStoresTheCheckpointAndTheManifest()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        byte[] weights = [.. Enumerable.Range(0, 4096).Select(i => (byte)i)];

        PromotionResult result = await pipeline.Registry.UploadAndPromoteAsync(
            "fashion", "default", new MemoryStream(weights), expectedLatest: null, numClasses: 10,
            metrics: new Dictionary<string, double> { ["fid@4"] = 12.5 });
        PromotionResult secondStart = await pipeline.Registry.UploadAndPromoteAsync(
            "fashion", "default", new MemoryStream(weights), expectedLatest: null);

        Assert.True(result.Promoted);
        Assert.False(secondStart.Promoted);
        ModelManifest latest = (await pipeline.Registry.GetLatestAsync("fashion"))!.Manifest;
        Assert.Equal(("default", "fashion/default/model.safetensors", 10), (latest.Version, latest.Checkpoint, latest.NumClasses));
        Assert.Equal(12.5, latest.Metrics?["fid@4"]);
        Assert.NotEqual(default, latest.CreatedAt);
        var downloaded = new MemoryStream();
        await pipeline.Registry.DownloadCheckpointAsync(latest, downloaded);
        Assert.Equal(weights, downloaded.ToArray());
    }

    [Fact]
    public async Task PropertiesOfNewerTrainersArePreserved()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        const string written = """
            { "model": "fashion", "version": "v7", "checkpoint": "fashion/run1/step-100.safetensors",
              "createdAt": "2030-01-01T00:00:00+00:00", "architecture": { "depth": 12, "patch": 2 } }
            """;
        await pipeline.Storage.CheckpointsContainer.UploadBlobAsync(ModelBlobNames.Version("fashion", "v7"), BinaryData.FromString(written));

        ModelManifest? manifest = await pipeline.Registry.GetVersionAsync("fashion", "v7");

        Assert.Equal(12, manifest?.AdditionalProperties?["architecture"].GetProperty("depth").GetInt32());
        using JsonDocument rewritten = JsonDocument.Parse(JsonSerializer.Serialize(manifest, PipelineJson.Options));
        Assert.Equal(2, rewritten.RootElement.GetProperty("architecture").GetProperty("patch").GetInt32());
    }

    [Theory]
    [InlineData("")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("-leading")]
    public void InvalidNamesAreRefused(string name)
    {
        Assert.Throws<ArgumentException>(() => ModelBlobNames.Latest(name));
        Assert.Throws<ArgumentException>(() => ModelBlobNames.Version("fashion", name));
    }

    private static ModelManifest Manifest(string version) => new()
    {
        Model = "fashion",
        Version = version,
        Checkpoint = ModelBlobNames.Checkpoint("fashion", version),
        NumClasses = 10,
    };
}
