using ShortcutPipeline.Contracts;
using TorchSharp;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Tests;

public sealed class ShortcutTargetsTests
{
    private const int Batch = 32;

    [Fact]
    public void BootstrapLevelsAreSpreadEvenlyOverZeroToSix()
    {
        foreach (int rows in new[] { 7, 16, 64, 100 })
        {
            var levels = ShortcutTargets.BootstrapLevels(rows, finestLevel: 7);
            Assert.Equal(rows, levels.Length);
            Assert.All(levels, k => Assert.InRange(k, 0, 6));
            var counts = Enumerable.Range(0, 7).Select(k => levels.Count(l => l == k)).ToArray();
            Assert.True(counts.Max() - counts.Min() <= 1, $"uneven levels for {rows} rows: {string.Join(",", counts)}");
        }
    }

    [Fact]
    public void QuarterOfTheBatchGetsSelfConsistencyTargetsAndTheRestFlowMatching()
    {
        using var model = ModelFixtures.RandomDiT();
        using var images = ModelFixtures.RandomImages(Batch, model.Config);
        using var labels = arange(Batch, dtype: int64) % 10;
        using var generator = new Generator(1);
        using var targets = ShortcutTargets.Build(images, labels, model, new TrainingConfig(), generator);

        Assert.Equal(8, targets.BootstrapRows);
        Assert.Equal(images.shape, targets.Xt.shape);
        Assert.Equal(images.shape, targets.Velocity.shape);
        var levels = targets.Level.data<long>().ToArray();
        Assert.All(levels[..8], k => Assert.InRange(k, 0, 6));
        Assert.All(levels[8..], k => Assert.Equal(7, k));

        // t lies on the grid of multiples of d = 1/2^k, in [0, 1).
        var t = targets.T.data<float>().ToArray();
        for (int i = 0; i < Batch; i++)
        {
            double sections = Math.Pow(2, levels[i]);
            Assert.InRange(t[i], 0, 1 - 1 / sections + 1e-6);
            Assert.Equal(Math.Round(t[i] * sections), t[i] * sections, 4);
        }
    }

    [Fact]
    public void FlowRowsCarryTheStraightPathVelocity()
    {
        using var model = ModelFixtures.RandomDiT();
        using var images = ModelFixtures.RandomImages(Batch, model.Config);
        using var labels = zeros(Batch, dtype: int64);
        using var generator = new Generator(2);
        using var targets = ShortcutTargets.Build(images, labels, model, new TrainingConfig(), generator);

        // Recover x_0 from x_t = (1 - (1 - 1e-5) t) x_0 + t x_1, then v must be x_1 - (1 - 1e-5) x_0.
        int b = targets.BootstrapRows;
        var t = targets.T[b..].view(-1, 1, 1, 1);
        var x1 = images[b..];
        var x0 = (targets.Xt[b..] - t * x1) / (1 - (1 - FlowMatchingTargets.SigmaMin) * t);
        var expected = x1 - (1 - FlowMatchingTargets.SigmaMin) * x0;
        Assert.True(expected.allclose(targets.Velocity[b..], rtol: 1e-4, atol: 1e-4));
    }

    [Fact]
    public void SelfConsistencyTargetIsTheMeanOfTwoHalfStepsAtTheNextLevel()
    {
        using var model = ModelFixtures.RandomDiT();
        using var images = ModelFixtures.RandomImages(Batch, model.Config);
        using var labels = arange(Batch, dtype: int64) % 10;
        using var generator = new Generator(3);
        var options = new TrainingConfig { LabelDropout = 0 };
        using var targets = ShortcutTargets.Build(images, labels, model, options, generator);

        int b = targets.BootstrapRows;
        using var _ = no_grad();
        var xt = targets.Xt[..b];
        var t = targets.T[..b];
        var k = targets.Level[..b];
        var y = targets.Labels[..b];
        var half = (0.5 / pow(2, k.to(float32))).view(-1);
        var v1 = model.forward(xt, t, k + 1, y);
        var x2 = (xt + half.view(-1, 1, 1, 1) * v1).clamp(-4, 4);
        var v2 = model.forward(x2, t + half, k + 1, y);
        var expected = ((v1 + v2) / 2).clamp(-4, 4);
        Assert.True(expected.allclose(targets.Velocity[..b], rtol: 1e-5, atol: 1e-5));
        Assert.True(ModelFixtures.Same(labels[..b], y), "without dropout the bootstrap rows keep their labels");
    }

    [Fact]
    public void IntermediateAndTargetAreClipped()
    {
        using var model = new DiT(ModelFixtures.TinyConfig(), seed: 1);
        using (no_grad())
        {
            // A model whose velocity is 100 everywhere: targets must be clipped to 4.
            model.get_parameter("final_layer.linear.bias")!.fill_(100);
        }
        using var images = ModelFixtures.RandomImages(Batch, model.Config);
        using var labels = zeros(Batch, dtype: int64);
        using var generator = new Generator(4);
        using var targets = ShortcutTargets.Build(images, labels, model, new TrainingConfig(), generator);

        int b = targets.BootstrapRows;
        Assert.Equal(4f, targets.Velocity[..b].max().item<float>());
        Assert.Equal(4f, targets.Velocity[..b].min().item<float>());
        Assert.True(targets.Velocity[b..].abs().max().item<float>() < 4, "flow-matching rows are not clipped");
    }

    [Fact]
    public void LabelDropoutReplacesLabelsWithTheNullClass()
    {
        using var model = ModelFixtures.RandomDiT();
        using var images = ModelFixtures.RandomImages(Batch, model.Config);
        using var labels = arange(Batch, dtype: int64) % 10;
        using var allDropped = ShortcutTargets.Build(images, labels, model, new TrainingConfig { LabelDropout = 1 }, new Generator(5));
        Assert.True(allDropped.Labels.eq(model.Config.NullClass).all().item<bool>());
        using var noneDropped = ShortcutTargets.Build(images, labels, model, new TrainingConfig { LabelDropout = 0 }, new Generator(5));
        Assert.True(ModelFixtures.Same(noneDropped.Labels, labels));
        using var someDropped = ShortcutTargets.Build(images, labels, model, new TrainingConfig { LabelDropout = 0.5 }, new Generator(5));
        long dropped = someDropped.Labels.eq(model.Config.NullClass).sum().item<long>();
        Assert.InRange(dropped, 4, 28);
    }

    [Fact]
    public void GuidanceInsideTheTargetsChangesOnlyTheFinestBootstrapLevel()
    {
        using var model = ModelFixtures.RandomDiT();
        using var images = ModelFixtures.RandomImages(Batch, model.Config);
        using var labels = arange(Batch, dtype: int64) % 10;
        var plain = new TrainingConfig { LabelDropout = 0 };
        using var unguided = ShortcutTargets.Build(images, labels, model, plain, new Generator(6));
        using var guided = ShortcutTargets.Build(images, labels, model, plain with { BootstrapCfgScale = 3 }, new Generator(6));
        using var scaleOne = ShortcutTargets.Build(images, labels, model, plain with { BootstrapCfgScale = 1 }, new Generator(6));

        Assert.True(unguided.Velocity.allclose(scaleOne.Velocity, rtol: 1e-5, atol: 1e-6));
        var levels = unguided.Level.data<long>().ToArray();
        for (int i = 0; i < Batch; i++)
        {
            bool same = unguided.Velocity[i].allclose(guided.Velocity[i], rtol: 1e-5, atol: 1e-6);
            Assert.Equal(i >= unguided.BootstrapRows || levels[i] != 6, same);
        }
    }

    [Fact]
    public void FlowMatchingObjectivePutsEveryRowAtTheFinestLevel()
    {
        var config = ModelFixtures.TinyConfig();
        using var images = ModelFixtures.RandomImages(Batch, config);
        using var labels = zeros(Batch, dtype: int64);
        using var targets = FlowMatchingTargets.Build(images, labels, config, 0.1, new Generator(7));
        Assert.Equal(0, targets.BootstrapRows);
        Assert.True(targets.Level.eq(7).all().item<bool>());
        var t = targets.T.data<float>().ToArray();
        Assert.All(t, v => Assert.Equal(Math.Round(v * 128), v * 128, 3));
    }

    [Fact]
    public void SameGeneratorSeedGivesTheSameTargets()
    {
        using var model = ModelFixtures.RandomDiT();
        using var images = ModelFixtures.RandomImages(Batch, model.Config);
        using var labels = arange(Batch, dtype: int64) % 10;
        using var a = ShortcutTargets.Build(images, labels, model, new TrainingConfig(), new Generator(8));
        using var b = ShortcutTargets.Build(images, labels, model, new TrainingConfig(), new Generator(8));
        Assert.True(ModelFixtures.Same(a.Xt, b.Xt) && ModelFixtures.Same(a.Velocity, b.Velocity) && ModelFixtures.Same(a.T, b.T) && ModelFixtures.Same(a.Labels, b.Labels));
    }
}
