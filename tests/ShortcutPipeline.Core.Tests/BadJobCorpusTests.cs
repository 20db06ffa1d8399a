using System.Text;
using System.Text.Json;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Core.Tests;

/// <summary>
/// Every malformed job of BadJobs/ goes through the intake exactly as a queue message would (the file's
/// text is the message) and must end as a Rejected status with the expected reasons, its message kept,
/// no work enqueued, and no exception.
/// </summary>
public sealed class BadJobCorpusTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static readonly string CorpusFolder = Path.Combine(AppContext.BaseDirectory, "BadJobs");

    private static readonly Dictionary<string, string[]> Expectations =
        JsonSerializer.Deserialize<Dictionary<string, string[]>>(
            File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "BadJobExpectations.json")))!;

    public static TheoryData<string> BadJobFiles()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.GetFiles(CorpusFolder, "*.json").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal))
        {
            data.Add(file);
        }

        return data;
    }

    [Fact]
    public void CorpusHasAtLeastThirtyCasesEachWithExpectedReasons()
    {
        string[] files = Directory.GetFiles(CorpusFolder, "*.json").Select(f => Path.GetFileName(f)!).ToArray();
        Assert.True(files.Length >= 30, $"only {files.Length} bad jobs");
        Assert.Equal(files.Order(StringComparer.Ordinal), Expectations.Keys.Order(StringComparer.Ordinal));
        Assert.All(Expectations, pair => Assert.NotEmpty(pair.Value));
    }

    [Theory]
    [MemberData(nameof(BadJobFiles))]
    public async Task BadJobIsRejectedWithEveryReasonAndKept(string file)
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        string message = await File.ReadAllTextAsync(Path.Combine(CorpusFolder, file));

        IntakeResult result = await pipeline.Intake.SubmitAsync(message, messageId: "m-" + file.Replace('.', '-'));

        Assert.Equal(IntakeOutcome.Rejected, result.Outcome);
        Assert.Equal(JobState.Rejected, result.State);
        AssertReasonsContain(Expectations[file], result.Reasons);
        Assert.All(result.Reasons, reason => Assert.Null(PrintableText.FirstUnsafe(reason)));

        JobStatus? status = await pipeline.Status.GetAsync(result.JobId);
        Assert.NotNull(status);
        Assert.Equal(JobState.Rejected, status.State);
        Assert.Equal(result.Reasons, status.Reasons);

        SubmittedMessage? kept = await pipeline.Status.GetSubmittedMessageAsync(result.JobId);
        Assert.NotNull(kept);
        Assert.Equal(message, kept.Text);
        Assert.False(kept.Truncated);
        Assert.Empty(await pipeline.DrainWorkQueueAsync());
    }

    [Fact]
    public async Task OversizedMessageIsRejectedAndKeptTruncated()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        string padding = new('x', 70_000);
        string message = $$"""{"id": "oversized", "model": {"name": "fashion"}, "classes": [{"label": 1, "count": 1}], "steps": 4, "note": "{{padding}}"}""";
        int bytes = Encoding.UTF8.GetByteCount(message);

        IntakeResult result = await pipeline.Intake.SubmitAsync(message);

        Assert.Equal(IntakeOutcome.Rejected, result.Outcome);
        Assert.Equal("oversized", result.JobId);
        AssertReasonsContain([$"The message is {bytes} bytes; the limit is 65536 bytes.", "$.note is not a known property"], result.Reasons);
        SubmittedMessage? kept = await pipeline.Status.GetSubmittedMessageAsync("oversized");
        Assert.NotNull(kept);
        Assert.True(kept.Truncated);
        Assert.Equal(bytes, kept.Bytes);
        Assert.Equal(65536, Encoding.UTF8.GetByteCount(kept.Text));
        Assert.StartsWith(kept.Text, message, StringComparison.Ordinal);
        Assert.Empty(await pipeline.DrainWorkQueueAsync());
    }

    [Fact]
    public async Task ThousandsOfBadEntriesGiveABoundedListOfReasons()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        string items = string.Join(",", Enumerable.Repeat("""{"label": -1}""", 200));
        string message = $$"""{"model": {"name": "fashion"}, "items": [{{items}}], "steps": 4}""";

        IntakeResult result = await pipeline.Intake.SubmitAsync(message);

        Assert.Equal(IntakeOutcome.Rejected, result.Outcome);
        Assert.Equal(51, result.Reasons.Count);
        Assert.Contains("$.items[49].label must be a class index", result.Reasons[49], StringComparison.Ordinal);
        Assert.Equal("... and 150 more problems not listed here.", result.Reasons[50]);
    }

    [Fact]
    public async Task RedeliveredBadMessageKeepsOneRecord()
    {
        TestPipeline pipeline = await CreatePipelineAsync();
        string message = await File.ReadAllTextAsync(Path.Combine(CorpusFolder, "steps-zero.json"));

        IntakeResult first = await pipeline.Intake.SubmitAsync(message, "queue-message-1");
        IntakeResult again = await pipeline.Intake.SubmitAsync(message, "queue-message-1");

        Assert.Equal("msg-queue-message-1", first.JobId);
        Assert.Equal(first.JobId, again.JobId);
        Assert.Equal(IntakeOutcome.Rejected, again.Outcome);
        Assert.Equal(first.Reasons, again.Reasons);
    }

    private async Task<TestPipeline> CreatePipelineAsync()
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await pipeline.RegisterModelAsync("fashion", "v1", numClasses: 10);
        await pipeline.RegisterModelAsync("fashion", "v2", numClasses: 10);
        return pipeline;
    }

    private static void AssertReasonsContain(IEnumerable<string> fragments, IReadOnlyList<string> reasons)
    {
        foreach (string fragment in fragments)
        {
            Assert.True(
                reasons.Any(reason => reason.Contains(fragment, StringComparison.Ordinal)),
                $"No reason contains \"{fragment}\". Reasons:\n  {string.Join("\n  ", reasons)}");
        }
    }
}
