using ShortcutPipeline.Contracts;
using System.Text.Json.Nodes;
using ShortcutPipeline.Model.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Tests;

public sealed class CheckpointTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("checkpoint-tests-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private static ImageDataset RandomDataset(DiTConfig config, int count = 40)
    {
        using var generator = new Generator(9);
        var images = randint(0, 256, [count, config.InChannels, config.InputSize, config.InputSize], dtype: ScalarType.Byte, generator: generator);
        var labels = randint(0, config.NumClasses, [count], generator: generator);
        return new ImageDataset(images, labels, Enumerable.Range(0, config.NumClasses).Select(i => $"class {i}").ToList());
    }

    private static TrainingConfig Options(TrainingObjective objective = TrainingObjective.Shortcut) =>
        new() { Objective = objective, BatchSize = 8, LearningRate = 1e-3, Seed = 21 };

    private static void AssertSameWeights(DiT expected, DiT actual, double tolerance = 0)
    {
        var a = expected.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in actual.named_parameters())
        {
            Assert.True(tolerance == 0 ? ModelFixtures.Same(a[name], parameter) : a[name].allclose(parameter, rtol: tolerance, atol: tolerance),
                $"parameter {name} differs");
        }
    }

    [Theory]
    [InlineData(TrainingObjective.Shortcut)]
    [InlineData(TrainingObjective.FlowMatching)]
    public void ResumingContinuesExactlyAsOneUninterruptedRun(TrainingObjective objective)
    {
        var config = ModelFixtures.TinyConfig();
        using var data = RandomDataset(config);
        const int n = 4;   // 2N = 8 steps of 8 images cross an epoch boundary of the 40-image set

        using var uninterrupted = new Trainer(config, Options(objective));
        for (int i = 0; i < 2 * n; i++) uninterrupted.TrainStep(data);

        var path = Path.Combine(directory, "resume.safetensors");
        using (var first = new Trainer(config, Options(objective)))
        {
            for (int i = 0; i < n; i++) first.TrainStep(data);
            Checkpoint.Save(first, path);
        }
        using var resumed = Checkpoint.Resume(path);
        Assert.Equal(n, resumed.Step);
        for (int i = 0; i < n; i++) resumed.TrainStep(data);

        Assert.Equal(2 * n, resumed.Step);
        AssertSameWeights(uninterrupted.Model, resumed.Model, tolerance: 1e-6);
        AssertSameWeights(uninterrupted.Ema.Model, resumed.Ema.Model, tolerance: 1e-6);
    }

    [Fact]
    public void ACheckpointWrittenBeforeTheOneTrainingConfigStillSaysHowItWasTrained()
    {
        // Checkpoints of the old TrainingOptions (the embedded default model's among them) nest the objective's settings
        // under "shortcut", with "source" and "clip" for the bootstrap source and the target clip.
        var config = ModelFixtures.TinyConfig();
        using var trainer = new Trainer(config, Options());
        var path = Path.Combine(directory, "old-metadata.safetensors");
        Checkpoint.Save(trainer, path);
        const string oldTraining = """
            {"objective":"Shortcut","shortcut":{"bootstrapFraction":0.125,"source":"EmaWithWarmup","bootstrapCfgScale":1.5,"labelDropout":0.2,"clip":3},
             "batchSize":16,"learningRate":0.001,"weightDecay":0.05,"emaDecay":0.99,"emaWarmup":null,"seed":7,"bFloat16":true,"usesEmaWarmup":true}
            """;
        RewriteMetadata(path, "training", oldTraining);

        var info = Checkpoint.ReadInfo(path);

        Assert.Equal(new TrainingConfig
        {
            BootstrapFraction = 0.125, BootstrapSource = BootstrapSource.EmaWithWarmup, BootstrapCfgScale = 1.5, LabelDropout = 0.2, TargetClip = 3,
            BatchSize = 16, LearningRate = 1e-3, WeightDecay = 0.05, EmaDecay = 0.99, Seed = 7, BFloat16 = true,
        }, info.Training);
        var embedded = Checkpoint.ReadInfo(Path.Combine(ShortcutPipeline.Testing.RepositoryPaths.Root, "src", "ShortcutPipeline.Cli", "DefaultModel", "fashion-mnist.safetensors"));
        Assert.Equal((1e-3, 64, 0.25), (embedded.Training!.LearningRate, embedded.Training.BatchSize, embedded.Training.BootstrapFraction));
    }

    // Replaces one metadata entry of a safetensors file (an 8-byte header length, the JSON header, the tensor bytes).
    private static void RewriteMetadata(string path, string key, string value)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int headerLength = checked((int)BitConverter.ToUInt64(bytes, 0));
        var header = System.Text.Json.Nodes.JsonNode.Parse(bytes.AsSpan(8, headerLength))!.AsObject();
        header["__metadata__"]![key] = value;
        byte[] newHeader = System.Text.Encoding.UTF8.GetBytes(header.ToJsonString());
        using var file = File.Create(path);
        file.Write(BitConverter.GetBytes((ulong)newHeader.Length));
        file.Write(newHeader);
        file.Write(bytes.AsSpan(8 + headerLength));
    }

    [Fact]
    public void CheckpointRoundTripsWeightsEmaOptimizerStateAndMetadata()
    {
        var config = ModelFixtures.TinyConfig() with { ClassNames = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"] };
        using var data = RandomDataset(config);
        using var trainer = new Trainer(config, Options());
        for (int i = 0; i < 3; i++) trainer.TrainStep(data);
        var path = Path.Combine(directory, "round-trip.safetensors");
        Checkpoint.Save(trainer, path, new Dictionary<string, double> { ["loss"] = 0.25 });

        var info = Checkpoint.ReadInfo(path);
        string[] noNames = [];
        Assert.Equal(config with { ClassNames = noNames }, info.Config with { ClassNames = noNames });
        Assert.Equal(config.ClassNames, info.Config.ClassNames);
        Assert.Equal(3, info.Step);
        Assert.Equal(trainer.Options, info.Training);
        Assert.Equal(0.25, info.Metrics["loss"]);
        Assert.True(info.HasTrainingState);

        using var resumed = Checkpoint.Resume(path);
        AssertSameWeights(trainer.Model, resumed.Model);
        AssertSameWeights(trainer.Ema.Model, resumed.Ema.Model);
        var expected = trainer.Optimizer.state_dict().State.Cast<TorchSharp.Modules.AdamW.State>().ToList();
        var actual = resumed.Optimizer.state_dict().State.Cast<TorchSharp.Modules.AdamW.State>().ToList();
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].step, actual[i].step);
            Assert.True(ModelFixtures.Same(expected[i].exp_avg, actual[i].exp_avg));
            Assert.True(ModelFixtures.Same(expected[i].exp_avg_sq, actual[i].exp_avg_sq));
        }
    }

    [Fact]
    public void SamplingLoadUsesTheEmaWeightsAndSamplesTheSame()
    {
        var config = ModelFixtures.TinyConfig();
        using var data = RandomDataset(config);
        using var trainer = new Trainer(config, Options());
        for (int i = 0; i < 3; i++) trainer.TrainStep(data);
        var training = Path.Combine(directory, "training.safetensors");
        var export = Path.Combine(directory, "sampling.safetensors");
        Checkpoint.Save(trainer, training);
        Checkpoint.ExportForSampling(trainer, export);

        var requests = new[] { new SampleRequest(1, 4, 1.5, 3), new SampleRequest(null, 1, 1, 4) };
        using var expected = new ShortcutSampler(trainer.Ema.Model).Sample(requests);
        foreach (var path in new[] { training, export })
        {
            using var model = Checkpoint.LoadForSampling(path);
            AssertSameWeights(trainer.Ema.Model, model);
            using var actual = new ShortcutSampler(model).Sample(requests);
            Assert.True(ModelFixtures.Same(expected.Samples, actual.Samples));
        }
        Assert.True(new FileInfo(export).Length < new FileInfo(training).Length / 3);
        Assert.False(Checkpoint.ReadInfo(export).HasTrainingState);
        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Resume(export));
        Assert.Contains("cannot be resumed", error.Message);
    }

    [Fact]
    public void HalfPrecisionExportLoadsCloseToTheFloatWeights()
    {
        var config = ModelFixtures.TinyConfig();
        using var data = RandomDataset(config);
        using var trainer = new Trainer(config, Options());
        trainer.TrainStep(data);
        var path = Path.Combine(directory, "bf16.safetensors");
        Checkpoint.ExportForSampling(trainer, path, ScalarType.BFloat16);
        using var model = Checkpoint.LoadForSampling(path);
        Assert.Equal(ScalarType.Float32, model.parameters().First().dtype);
        AssertSameWeights(trainer.Ema.Model, model, tolerance: 1e-2);
    }

    [Theory]
    [InlineData(TrainingObjective.Shortcut)]
    [InlineData(TrainingObjective.FlowMatching)]
    public void CheckpointsWrittenBeforeTheStepSizeFlagAreSampledAtTheLevelsTheirObjectiveTrained(TrainingObjective objective)
    {
        // Checkpoints from before the config said whether the model is conditioned on the step size: their training
        // metadata names the objective, and a flow-matching model must still be given the finest level at every budget.
        var config = ModelFixtures.TinyConfig();
        using var trainer = new Trainer(config, Options(objective));
        ModelFixtures.Randomize(trainer.Ema.Model);
        var training = Path.Combine(directory, "old-training.safetensors");
        var export = Path.Combine(directory, "old-sampling.safetensors");
        Checkpoint.Save(trainer, training);
        Checkpoint.ExportForSampling(trainer, export);
        foreach (var path in new[] { training, export })
        {
            Assert.Equal(objective == TrainingObjective.Shortcut, Checkpoint.ReadInfo(path).Config.StepSizeConditioned);
            Assert.Contains("\"stepSizeConditioned\"", SafetensorsFile.ReadHeader(path).Metadata["config"]);
            RemoveConfigField(path, "stepSizeConditioned");
            using var model = Checkpoint.LoadForSampling(path);
            Assert.Equal(objective == TrainingObjective.Shortcut, model.Config.StepSizeConditioned);
            foreach (int steps in new[] { 1, 4 })
            {
                var request = new SampleRequest(3, steps, 1, 8);
                int level = objective == TrainingObjective.Shortcut ? StepBudget.LevelOf(steps) : config.FinestLevel;
                using var result = new ShortcutSampler(model).Sample([request]);
                using var expected = ModelFixtures.EulerAtLevel(model, request, level);
                Assert.True(expected.allclose(result.Samples, rtol: 1e-5, atol: 1e-5), $"{Path.GetFileName(path)}, {steps} steps: not sampled at level {level}");
            }
        }
    }

    // Rewrites a checkpoint's config JSON without one field, as files written before the field existed.
    private static void RemoveConfigField(string path, string field)
    {
        var header = SafetensorsFile.ReadHeader(path);
        var tensors = SafetensorsFile.ReadTensors(path);
        try
        {
            var metadata = header.Metadata.ToDictionary();
            var configJson = JsonNode.Parse(metadata["config"])!.AsObject();
            configJson.Remove(field);
            metadata["config"] = configJson.ToJsonString();
            SafetensorsFile.Write(path, tensors, metadata);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    [Fact]
    public void BrokenFilesGiveClearErrors()
    {
        var notSafetensors = Path.Combine(directory, "garbage.safetensors");
        File.WriteAllBytes(notSafetensors, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        Assert.Contains("header length", Assert.Throws<InvalidDataException>(() => Checkpoint.ReadInfo(notSafetensors)).Message);

        var foreign = Path.Combine(directory, "foreign.safetensors");
        using (var t = zeros(2)) SafetensorsFile.Write(foreign, new Dictionary<string, Tensor> { ["w"] = t });
        Assert.Contains("Not a ShortcutPipeline checkpoint", Assert.Throws<InvalidDataException>(() => Checkpoint.LoadForSampling(foreign)).Message);

        var config = ModelFixtures.TinyConfig();
        using var trainer = new Trainer(config, Options());
        var truncated = Path.Combine(directory, "truncated.safetensors");
        Checkpoint.Save(trainer, truncated);
        var bytes = File.ReadAllBytes(truncated);
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        Assert.Contains("ends inside tensor", Assert.Throws<InvalidDataException>(() => Checkpoint.Resume(truncated)).Message);
    }
}
