using ShortcutPipeline.Cli.Commands;
using ShortcutPipeline.Cli.Pipeline;

namespace ShortcutPipeline.Cli.Tests;

public sealed class JobMessagesTests
{
    [Fact]
    public void AFileHoldsOneJobOrAnArrayOfJobs()
    {
        JobMessage single = Assert.Single(JobMessages.Read("""{ "id": "a", "model": { "name": "m" }, "classes": [ { "count": 1 } ], "steps": 1 }"""));
        IReadOnlyList<JobMessage> two = JobMessages.Read("""
            [ { "id": "b", "model": { "name": "m" }, "classes": [ { "count": 1 } ], "steps": 2 },
              { "model": { "name": "m" }, "classes": [ { "count": 1 } ], "steps": 4 } ]
            """);

        Assert.Equal(("a", 0), (single.Id, single.Problems.Count));
        Assert.Equal(["b", null], two.Select(j => j.Id));
        Assert.All(two, j => Assert.Empty(j.Problems));
        Assert.StartsWith("{", two[1].Text, StringComparison.Ordinal);
        Assert.Equal("msg-abc-123", JobMessages.IdOnQueue(two[1], "abc-123"));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("[1, 2]")]
    [InlineData("\"a job\"")]
    public void InputThatHoldsNoJobsIsRefused(string text) => Assert.Throws<FormatException>(() => JobMessages.Read(text));

    [Fact]
    public void ContractViolationsAreFoundBeforeSending()
    {
        JobMessage bad = Assert.Single(JobMessages.Read("""{ "id": "bad", "model": { "name": "m" }, "classes": [ { "count": 1 } ], "steps": 3 }"""));

        Assert.Contains(bad.Problems, p => p.StartsWith("$.steps", StringComparison.Ordinal));
    }

    [Fact]
    public void TheBuiltInExamplesAskForBudgetsOneFourAndOneHundredTwentyEight()
    {
        IReadOnlyList<JobMessage> examples = LocalCommand.ReadJobs(null);

        Assert.Equal(["local-budget-1", "local-budget-4", "local-budget-128"], examples.Select(j => j.Id));
        Assert.All(examples, j => Assert.Empty(j.Problems));
    }
}
