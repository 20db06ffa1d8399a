using ShortcutPipeline.Contracts;
using ShortcutPipeline.Model.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Tests;

public sealed class TrainerTests
{
    private static ImageDataset RandomDataset(DiTConfig config, int count = 32)
    {
        using var generator = new Generator(4);
        return new ImageDataset(
            randint(0, 256, [count, config.InChannels, config.InputSize, config.InputSize], dtype: ScalarType.Byte, generator: generator),
            randint(0, config.NumClasses, [count], generator: generator),
            Enumerable.Range(0, config.NumClasses).Select(i => $"c{i}").ToList());
    }

    [Theory]
    [InlineData(TrainingObjective.Shortcut, false)]
    [InlineData(TrainingObjective.FlowMatching, false)]
    [InlineData(TrainingObjective.Shortcut, true)]
    public void TrainingStepsLowerTheLossAndMoveTheWeightsAndTheEma(TrainingObjective objective, bool bfloat16)
    {
        var config = ModelFixtures.TinyConfig();
        using var data = RandomDataset(config, count: 16);
        using var trainer = new Trainer(config, new TrainingConfig { Objective = objective, BatchSize = 16, LearningRate = 3e-3, BFloat16 = bfloat16, Seed = 2 });
        using var initial = trainer.Model.get_parameter("final_layer.linear.weight")!.clone();
        var losses = Enumerable.Range(0, 30).Select(_ => trainer.TrainStep(data)).ToList();

        Assert.All(losses, l => Assert.True(double.IsFinite(l)));
        Assert.True(losses.TakeLast(5).Average() < losses.Take(5).Average(), $"loss did not fall: {string.Join(", ", losses.Select(l => l.ToString("F3")))}");
        Assert.Equal(30, trainer.Step);
        Assert.Equal(ScalarType.Float32, trainer.Model.parameters().First().dtype);
        Assert.False(initial.allclose(trainer.Model.get_parameter("final_layer.linear.weight")!));
        Assert.False(ModelFixtures.Same(trainer.Model.get_parameter("final_layer.linear.weight")!, trainer.Ema.Model.get_parameter("final_layer.linear.weight")!));
    }

    [Fact]
    public void EmaWarmsUpUnlessItIsThePapersBootstrapTeacher()
    {
        Assert.True(new TrainingConfig().UsesEmaWarmup);
        Assert.False(new TrainingConfig { BootstrapSource = BootstrapSource.Ema }.UsesEmaWarmup);
        Assert.True(new TrainingConfig { BootstrapSource = BootstrapSource.EmaWithWarmup }.UsesEmaWarmup);
        using var model = new DiT(ModelFixtures.TinyConfig());
        using var ema = new Ema(model, 0.999, warmup: true);
        Assert.Equal(0.1, ema.DecayAt(0), 6);
        Assert.Equal(0.999, ema.DecayAt(100_000), 6);
    }

    [Fact]
    public async Task ASeedGivesTheSameInitialWeightsWhileAnotherThreadBuildsDecoderLayers()
    {
        // torch's generator is one per process, and test classes (like a trainer and a worker in one process) build
        // modules on several threads at once: the decoder's layers draw their default initial weights from it too.
        var config = ModelFixtures.TinyConfig();
        using var reference = new DiT(config, seed: 11);
        var started = new TaskCompletionSource();
        using var stop = new CancellationTokenSource();
        Task builder = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var block = new VaeResnetBlock(16, 32, groups: 4, device: null);
                started.TrySetResult();
            }
        });
        try
        {
            await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
            for (int attempt = 1; attempt <= 20; attempt++)
            {
                using var again = new DiT(config, seed: 11);
                foreach (var ((name, expected), (_, actual)) in reference.named_parameters().Zip(again.named_parameters()))
                    Assert.True(ModelFixtures.Same(expected, actual), $"{name} differs in attempt {attempt}");
            }
        }
        finally
        {
            await stop.CancelAsync();
            await builder;
        }
    }

    [Fact]
    public void BatchesWalkAPermutationOfTheDataEachEpoch()
    {
        var config = ModelFixtures.TinyConfig();
        using var trainer = new Trainer(config, new TrainingConfig { BatchSize = 4, Seed = 3 });
        var firstEpoch = new List<long>();
        for (int step = 0; step < 5; step++)
        {
            trainer.Step = step;
            using var indices = trainer.BatchIndices(20);
            firstEpoch.AddRange(indices.data<long>().ToArray());
        }
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (long)i), firstEpoch.Order());
        trainer.Step = 5;
        using var secondEpoch = trainer.BatchIndices(20);
        trainer.Step = 0;
        using var firstBatch = trainer.BatchIndices(20);
        Assert.False(ModelFixtures.Same(firstBatch, secondEpoch), "each epoch has its own order");
    }

    [Fact]
    public void InvalidOptionsAreRejected()
    {
        var config = ModelFixtures.TinyConfig();
        Assert.Throws<ArgumentException>(() => new Trainer(config, new TrainingConfig { BatchSize = 0 }));
        Assert.Throws<ArgumentException>(() => new Trainer(config, new TrainingConfig { LearningRate = -1 }));
        Assert.Throws<ArgumentException>(() => new Trainer(config, new TrainingConfig { BootstrapFraction = 2 }));
        Assert.Throws<ArgumentException>(() => new DiT(config with { HiddenSize = 30 }));
        Assert.Throws<ArgumentException>(() => DiT.Preset("DiT-Huge/1"));
    }
}
