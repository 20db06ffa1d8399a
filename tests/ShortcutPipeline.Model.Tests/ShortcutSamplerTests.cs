using ShortcutPipeline.Contracts;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Tests;

public sealed class ShortcutSamplerTests
{
    private static byte[] Pixels(Tensor samples) =>
        ((samples.clamp(-1, 1) + 1) * 127.5).round().to(ScalarType.Byte).data<byte>().ToArray();

    [Fact]
    public void SameRequestsGiveIdenticalSamples()
    {
        using var model = ModelFixtures.RandomDiT();
        var sampler = new ShortcutSampler(model);
        var requests = new[] { new SampleRequest(3, 4, 1.5, 11), new SampleRequest(null, 2, 1, 12) };
        using var a = sampler.Sample(requests);
        using var b = sampler.Sample(requests);
        Assert.True(ModelFixtures.Same(a.Samples, b.Samples));
        Assert.All(a.Completed, Assert.True);
    }

    [Fact]
    public void DifferentSeedsGiveDifferentSamples()
    {
        using var model = ModelFixtures.RandomDiT();
        var sampler = new ShortcutSampler(model);
        using var result = sampler.Sample([new SampleRequest(3, 4, 1, 11), new SampleRequest(3, 4, 1, 12)]);
        Assert.False(result.Samples[0].allclose(result.Samples[1]));
    }

    [Fact]
    public void ARequestsImageDoesNotDependOnItsBatch()
    {
        using var model = ModelFixtures.RandomDiT();
        var sampler = new ShortcutSampler(model);
        var request = new SampleRequest(4, 8, 2.0, 42);
        using var alone = sampler.Sample([request]);

        // The same request among others with other budgets, labels, guidance and seeds, at another position.
        var others = Enumerable.Range(0, 9).Select(i => new SampleRequest(i % 3 == 0 ? null : i, 1 << (i % 8), i % 2 == 0 ? 1 : 3, 100 + i)).ToList();
        others.Insert(5, request);
        using var batched = sampler.Sample(others);

        var alonePixels = Pixels(alone.Samples[0]);
        var batchedPixels = Pixels(batched.Samples[5]);
        int maxDifference = alonePixels.Zip(batchedPixels, (x, y) => Math.Abs(x - y)).Max();
        Assert.True(maxDifference <= 1, $"pixels differ by up to {maxDifference}/255");
    }

    [Fact]
    public void ARowStartedLatePausedAndSharingPassesWithOtherBudgetsGivesTheSameImage()
    {
        using var model = ModelFixtures.RandomDiT();
        var sampler = new ShortcutSampler(model);
        var request = new SampleRequest(4, 8, 2.0, 42);
        using var alone = sampler.Sample([request]);

        // Rows come and go between passes, as the worker's scheduler moves them: the request starts in a slot that an
        // earlier 1-step row freed, shares passes with 128- and 4-step rows, and sits out one pass.
        using var rows = new SamplerRows(sampler, capacity: 3);
        var first = rows.Start([new SampleRequest(1, 128, 1, 7), new SampleRequest(null, 1, 1, 8)]);
        rows.Step(first);
        Assert.True(rows.IsFinished(first[1]));
        Assert.False(rows.IsFinished(first[0]));
        rows.Take([first[1]]).Dispose();
        int slot = Assert.Single(rows.Start([request]));
        Assert.Equal(first[1], slot);
        int other = Assert.Single(rows.Start([new SampleRequest(7, 4, 3, 9)]));
        int pass = 0;
        while (!rows.IsFinished(slot))
        {
            var active = new[] { first[0], slot, other }.Where(s => rows.Holds(s) && !rows.IsFinished(s) && !(s == slot && pass == 2)).ToList();
            rows.Step(active);
            pass++;
        }

        Assert.Equal(9, pass);
        Assert.Equal(8, rows.StepsDone(slot));
        using var sample = rows.Take([slot]);
        int maxDifference = Pixels(alone.Samples[0]).Zip(Pixels(sample.cpu()[0]), (a, b) => Math.Abs(a - b)).Max();
        Assert.True(maxDifference <= 1, $"pixels differ by up to {maxDifference}/255");
        Assert.Equal(2, rows.Count);
    }

    [Fact]
    public void RowsBeyondTheCapacityAndStepsBeyondTheBudgetAreRefused()
    {
        using var model = ModelFixtures.RandomDiT();
        using var rows = new SamplerRows(new ShortcutSampler(model), capacity: 2);
        var slots = rows.Start([new SampleRequest(1, 1, 1, 1), new SampleRequest(2, 2, 1, 2)]);
        Assert.Throws<InvalidOperationException>(() => rows.Start([new SampleRequest(3, 1, 1, 3)]));
        rows.Step(slots);
        Assert.Throws<InvalidOperationException>(() => rows.Step(slots));   // the 1-step row is finished
        rows.Free(slots[0]);
        Assert.False(rows.Holds(slots[0]));
        Assert.Throws<ArgumentException>(() => rows.StepsDone(slots[0]));
        Assert.Equal(slots[0], Assert.Single(rows.Start([new SampleRequest(3, 1, 1, 3)])));
        Assert.Throws<ArgumentException>(() => rows.Start([new SampleRequest(3, 3, 1, 3)]));   // not a power of two
    }

    [Fact]
    public void OneStepIsOneEulerStepFromTheSeedsNoiseAtLevelZero()
    {
        using var model = ModelFixtures.RandomDiT();
        var sampler = new ShortcutSampler(model);
        var request = new SampleRequest(2, 1, 1, 5);
        using var result = sampler.Sample([request]);
        using var _ = no_grad();
        var x0 = sampler.InitialNoise([request]);
        var v = model.forward(x0, zeros(1), zeros(1, dtype: int64), full(1, 2L));
        Assert.True((x0 + v).allclose(result.Samples, rtol: 1e-5, atol: 1e-5));
    }

    [Theory]
    [InlineData(TrainingObjective.Shortcut)]
    [InlineData(TrainingObjective.FlowMatching)]
    public void EveryBudgetIsSampledAtALevelTheModelWasTrainedAt(TrainingObjective objective)
    {
        // A shortcut model learned every level and is given log2(steps); a flow-matching model learned only the finest
        // level (d = 1/128), so it is given that level whatever the budget, as the official code's baseline.
        using var trainer = new Trainer(ModelFixtures.TinyConfig(), new TrainingConfig { Objective = objective });
        Assert.Equal(objective == TrainingObjective.Shortcut, trainer.Config.StepSizeConditioned);
        var model = trainer.Ema.Model;
        ModelFixtures.Randomize(model);
        var sampler = new ShortcutSampler(model);
        foreach (int steps in new[] { 1, 4 })
        {
            var request = new SampleRequest(2, steps, 1, 5);
            int budgetLevel = StepBudget.LevelOf(steps), finest = model.Config.FinestLevel;
            int expectedLevel = objective == TrainingObjective.Shortcut ? budgetLevel : finest;
            using var result = sampler.Sample([request]);
            using var expected = ModelFixtures.EulerAtLevel(model, request, expectedLevel);
            using var other = ModelFixtures.EulerAtLevel(model, request, objective == TrainingObjective.Shortcut ? finest : budgetLevel);
            Assert.True(expected.allclose(result.Samples, rtol: 1e-5, atol: 1e-5), $"{objective}, {steps} steps: not sampled at level {expectedLevel}");
            Assert.False(other.allclose(result.Samples, rtol: 1e-5, atol: 1e-5), $"{objective}, {steps} steps: the levels do not matter to this model");
            Assert.Equal(expectedLevel, model.Config.LevelForBudget(steps));
        }
    }

    [Fact]
    public void GuidanceMixesConditionalAndUnconditionalVelocities()
    {
        using var model = ModelFixtures.RandomDiT();
        using var _ = no_grad();
        var x = ModelFixtures.RandomImages(2, model.Config);
        var t = tensor(new[] { 0.25f, 0.5f });
        var level = tensor(new[] { 2L, 3L });
        var labels = tensor(new[] { 1L, 2L });
        var guided = ShortcutSampler.Velocity(model, x, t, level, labels, tensor(new[] { 3f, 1f }));
        var conditional = model.forward(x, t, level, labels);
        var unconditional = model.forward(x, t, level, full(2, (long)model.Config.NullClass));
        var expected0 = unconditional[0] + 3 * (conditional[0] - unconditional[0]);
        Assert.True(expected0.allclose(guided[0], rtol: 1e-4, atol: 1e-5));
        Assert.True(conditional[1].allclose(guided[1], rtol: 1e-5, atol: 1e-6), "scale 1 is the plain conditional velocity");
    }

    [Fact]
    public void StoppedRowsAreMarkedNotCompletedAndOthersFinish()
    {
        using var model = ModelFixtures.RandomDiT();
        var sampler = new ShortcutSampler(model);
        var requests = new[] { new SampleRequest(1, 8, 1, 1), new SampleRequest(2, 8, 1, 2) };
        using var full = sampler.Sample(requests);
        using var stopped = sampler.Sample(requests, step => step == 3 ? [0] : []);
        Assert.False(stopped.Completed[0]);
        Assert.True(stopped.Completed[1]);
        Assert.True(full.Samples[1].allclose(stopped.Samples[1], rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void CancellationStopsTheLoop()
    {
        using var model = ModelFixtures.RandomDiT();
        var sampler = new ShortcutSampler(model);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.Throws<OperationCanceledException>(() => sampler.Sample([new SampleRequest(1, 4, 1, 1)], cancellationToken: cancelled.Token));
    }

    [Theory]
    [InlineData(3, 1)]
    [InlineData(256, 1)]
    [InlineData(0, 1)]
    [InlineData(4, 10)]
    [InlineData(4, -1)]
    public void InvalidRequestsAreRejected(int steps, int label)
    {
        using var model = ModelFixtures.RandomDiT();
        var error = Assert.Throws<ArgumentException>(() => new ShortcutSampler(model).Sample([new SampleRequest(label, steps, 1, 1)]));
        Assert.NotEmpty(error.Message);
    }
}
