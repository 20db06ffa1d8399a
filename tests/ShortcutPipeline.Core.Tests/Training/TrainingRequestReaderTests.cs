using ShortcutPipeline.Contracts;
using System.Text;
using System.Text.Json;
using ShortcutPipeline.Core.Training;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Core.Tests.Training;

public sealed class TrainingRequestReaderTests
{
    private const string Minimal = """{ "model": "fashion", "preset": "DiT-Small/4", "dataset": "fashion-mnist", "steps": 500 }""";

    private static readonly TrainingRequestReader Reader = new(new ManualTimeProvider(new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero)));

    [Fact]
    public void AMinimalRequestGetsTheDefaultsAndANewRunId()
    {
        TrainingRequestReadResult read = Reader.Read(Minimal);

        TrainingRequest request = Assert.IsType<TrainingRequest>(read.Request);
        Assert.Empty(read.Reasons);
        Assert.False(read.HasOwnRunId);
        Assert.Matches("^fashion-20300102030405-[0-9a-f]{4}$", request.RunId);
        Assert.Equal((64, TrainingObjective.Shortcut, 1e-4, 0L, 1000), (request.BatchSize, request.Objective, request.LearningRate, request.Seed, request.CheckpointEvery));
        Assert.Null(request.Promotion);
        Assert.Null(request.DatasetBlobPrefix);
    }

    [Fact]
    public void AFullRequestIsReadAsWritten()
    {
        const string json = """
            { "runId": "run_1", "model": "fashion.v2", "preset": "DiT-Tiny/2", "inputSize": 8, "channels": 1, "patchSize": 2,
              "hiddenSize": 32, "depth": 2, "numHeads": 2, "dataset": "blob:shoes/", "datasetLimit": 200, "steps": 40,
              "batchSize": 8, "objective": "flowMatching", "learningRate": 0.001, "seed": 7, "checkpointEvery": 20,
              "promotion": { "budget": 4, "maxFrechetDistance": 50, "samples": 64, "classifierSteps": 30 } }
            """;

        TrainingRequest request = Reader.Read(json).Request!;

        Assert.Equal("run_1", request.RunId);
        Assert.Equal((8, 1, 2, 32, 2, 2), (request.InputSize, request.Channels, request.PatchSize, request.HiddenSize, request.Depth, request.NumHeads));
        Assert.Equal("shoes/", request.DatasetBlobPrefix);
        Assert.Equal(TrainingObjective.FlowMatching, request.Objective);
        Assert.Equal(new PromotionPolicy { Budget = 4, MaxFrechetDistance = 50, Samples = 64, ClassifierSteps = 30 }, request.Promotion);
        // The queue message round-trips through the reader unchanged.
        Assert.Equal(request, Reader.Read(request.ToJson()).Request);
        Assert.Equal(request, Reader.Read(Convert.ToBase64String(Encoding.UTF8.GetBytes(request.ToJson()))).Request);
    }

    [Fact]
    public void ARequestCanSetEveryFieldOfTheTrainingConfig()
    {
        // A value unlike the default for every TrainingConfig property; a property added to the record without a line
        // here fails the first assertion.
        const string json = """
            { "model": "fashion", "dataset": "fashion-mnist", "steps": 10,
              "preset": "DiT-Tiny/2", "inputSize": 16, "channels": 3, "patchSize": 4, "hiddenSize": 48, "depth": 3, "numHeads": 3,
              "objective": "flowMatching", "bootstrapFraction": 0.125, "bootstrapSource": "ema", "bootstrapCfgScale": 1.5,
              "labelDropout": 0.2, "targetClip": 2.5, "batchSize": 32, "learningRate": 0.0003, "weightDecay": 0.01, "emaDecay": 0.9999,
              "emaWarmup": false, "seed": 11, "bFloat16": true }
            """;
        using JsonDocument document = JsonDocument.Parse(json);
        string[] runFields = ["model", "dataset", "steps"];
        string[] configFields = typeof(TrainingConfig).GetProperties()
            .Where(p => p.CanWrite && p.GetCustomAttributes(typeof(System.Text.Json.Serialization.JsonIgnoreAttribute), true).Length == 0)
            .Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name)).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(configFields, document.RootElement.EnumerateObject().Select(p => p.Name).Except(runFields).Order(StringComparer.Ordinal));

        TrainingRequestReadResult read = Reader.Read(json);

        Assert.Empty(read.Reasons);
        TrainingConfig expected = new()
        {
            Preset = "DiT-Tiny/2", InputSize = 16, Channels = 3, PatchSize = 4, HiddenSize = 48, Depth = 3, NumHeads = 3,
            Objective = TrainingObjective.FlowMatching, BootstrapFraction = 0.125, BootstrapSource = BootstrapSource.Ema, BootstrapCfgScale = 1.5,
            LabelDropout = 0.2, TargetClip = 2.5, BatchSize = 32, LearningRate = 3e-4, WeightDecay = 0.01, EmaDecay = 0.9999,
            EmaWarmup = false, Seed = 11, BFloat16 = true,
        };
        Assert.Equal(expected, read.Request!.ToTrainingConfig());
        var defaults = new TrainingConfig();
        Assert.All(typeof(TrainingConfig).GetProperties().Where(p => p.CanWrite),
            p => Assert.NotEqual(p.GetValue(defaults), p.GetValue(expected)));
        // What the launcher sends reads back the same.
        Assert.Equal(read.Request, Reader.Read(read.Request.ToJson()).Request);
    }

    [Theory]
    [InlineData("\"bFloat16\": \"yes\"", "$.bFloat16 must be true or false; got a string (\"yes\").")]
    [InlineData("\"bootstrapSource\": \"teacher\"", "$.bootstrapSource must be \"currentWeights\", \"ema\" or \"emaWithWarmup\"; got a string (\"teacher\").")]
    [InlineData("\"emaDecay\": 1", "$.emaDecay must be a number from 0 up to (not including) 1; got the number 1.")]
    [InlineData("\"labelDropout\": -0.1", "$.labelDropout must be a number from 0 to 1; got the number -0.1.")]
    [InlineData("\"bootstrapFraction\": \"all\"", "$.bootstrapFraction must be a number from 0 to 1; got a string (\"all\").")]
    public void EachTrainingSettingIsCheckedWithItsRule(string setting, string reason)
    {
        TrainingRequestReadResult read = Reader.Read(Minimal.Replace("}", ", " + setting + " }", StringComparison.Ordinal));

        Assert.Equal([reason], read.Reasons);
    }

    [Fact]
    public void EveryProblemIsReportedWithItsPath()
    {
        const string json = """
            { "runId": "versions", "model": "bad/name", "dataset": "blob:../up", "steps": -5, "batchSize": 0, "channels": 2,
              "objective": "diffusion", "learningRate": 0, "seed": -1, "checkpointEvery": 0, "Steps": 3,
              "promotion": { "budget": 3, "colour": "red" } }
            """;

        TrainingRequestReadResult read = Reader.Read(json);

        Assert.Null(read.Request);
        string[] expectedStarts =
        [
            "$.Steps is not a known property (did you mean \"steps\"?",
            "$.runId must be 1 to 40 letters",
            "$.model must be 1 to 64 letters",
            "$.preset is required",
            "$.channels must be 1 (grayscale) or 3 (RGB); got the number 2.",
            "$.dataset must be \"fashion-mnist\"",
            "$.steps must be a whole number from 1 to 100000000; got the number -5.",
            "$.batchSize must be a whole number from 1 to 4096; got the number 0.",
            "$.objective must be \"shortcut\" or \"flowMatching\"",
            "$.learningRate must be a number above 0 and at most 1",
            "$.seed must be a whole number from 0",
            "$.checkpointEvery must be a whole number from 1",
            "$.promotion.colour is not a known property",
            "$.promotion.budget must be a power of two from 1 to 128; got the number 3.",
            "$.promotion.maxFrechetDistance is required",
        ];
        Assert.Equal(expectedStarts.Length, read.Reasons.Count);
        Assert.All(expectedStarts, start => Assert.Contains(read.Reasons, reason => reason.StartsWith(start, StringComparison.Ordinal)));
        Assert.StartsWith("rejected-", read.RunId, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "The message is empty")]
    [InlineData("[1, 2]", "The message must be a JSON object (a training request); got an array.")]
    [InlineData("{ \"model\": ", "The message is not valid JSON")]
    [InlineData("""{ "model": "m", "preset": "p", "dataset": "blob:", "steps": 1 }""", "$.dataset must be")]
    [InlineData("""{ "model": "m", "preset": "p", "dataset": "blob:/abs", "steps": 1 }""", "$.dataset must be")]
    [InlineData("""{ "model": "m", "preset": "p", "dataset": "x", "steps": 1.5 }""", "$.steps must be a whole number")]
    [InlineData("""{ "model": "m", "preset": "p", "dataset": "x", "steps": "10" }""", "$.steps must be a whole number from 1 to 100000000; got a string (\"10\").")]
    [InlineData("""{ "model": "m", "preset": "p", "dataset": "x" }""", "$.steps is required")]
    [InlineData("""{ "model": "m", "preset": "p", "dataset": "x", "steps": 1, "promotion": 5 }""", "$.promotion must be an object")]
    public void BadRequestsSayWhy(string message, string reasonStart)
    {
        TrainingRequestReadResult read = Reader.Read(message);

        Assert.False(read.IsValid);
        Assert.Contains(read.Reasons, reason => reason.StartsWith(reasonStart, StringComparison.Ordinal));
    }

    [Fact]
    public void TheDefaultRunIdNamesRequestsWithoutOne()
    {
        Assert.Equal("q-abc", Reader.Read(Minimal, defaultRunId: "q-abc").RunId);
        Assert.Equal("q-abc", Reader.Read("""{ "steps": -1 }""", defaultRunId: "q-abc").RunId);
        Assert.Equal("mine", Reader.Read(Minimal.Replace("{", """{ "runId": "mine",""", StringComparison.Ordinal), defaultRunId: "q-abc").RunId);
    }

    [Fact]
    public void TheConfigurationFingerprintIgnoresTheRunIdAndSpelledOutDefaults()
    {
        TrainingRequest request = Reader.Read(Minimal).Request!;
        TrainingRequest spelledOut = Reader.Read(Minimal.Replace("}", """, "runId": "other", "batchSize": 64, "objective": "shortcut" }""", StringComparison.Ordinal)).Request!;

        Assert.Equal(request.ConfigurationFingerprint(), spelledOut.ConfigurationFingerprint());
        Assert.NotEqual(request.ConfigurationFingerprint(), (request with { Steps = 501 }).ConfigurationFingerprint());
        Assert.NotEqual(request.ConfigurationFingerprint(), (request with { Dataset = "blob:x" }).ConfigurationFingerprint());
        using JsonDocument json = JsonDocument.Parse(request.ToJson());
        Assert.False(json.RootElement.TryGetProperty("datasetBlobPrefix", out _));
    }

    [Theory]
    [InlineData("fashion", "fashion-20300102030405-")]
    [InlineData("a.very.long.model.name.indeed", "a-very-long-mode-20300102030405-")]
    [InlineData("...", "run-20300102030405-")]
    public void NewRunIdsAreValidAndLeaveRoomForVersionNames(string model, string start)
    {
        string runId = TrainingRequestReader.NewRunId(model, new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero));

        Assert.StartsWith(start, runId, StringComparison.Ordinal);
        Assert.True(TrainingRequestReader.IsValidRunId(runId));
        Assert.NotNull(TrainingBlobNames.VersionName(new string('r', TrainingRequestReader.MaxRunIdLength), 100_000_000));
    }

    [Fact]
    public void CheckpointBlobNamesParseBack()
    {
        Assert.Equal("fashion/r1/step-200.safetensors", TrainingBlobNames.Checkpoint("fashion", "r1", 200));
        Assert.Equal(200, TrainingBlobNames.CheckpointStepOf("fashion/r1/step-200.safetensors"));
        Assert.Null(TrainingBlobNames.CheckpointStepOf("fashion/r1/step-200.sampling.safetensors"));
        Assert.Null(TrainingBlobNames.CheckpointStepOf("fashion/r1/step-.safetensors"));
        Assert.Null(TrainingBlobNames.CheckpointStepOf("fashion/r1/step-2x.safetensors"));
        Assert.Equal("r1-step-200", TrainingBlobNames.VersionName("r1", 200));
        Assert.Throws<ArgumentException>(() => TrainingBlobNames.RunPrefix("fashion", "versions"));
    }
}
