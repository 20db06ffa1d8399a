using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using ShortcutPipeline.Core.Contracts;

namespace ShortcutPipeline.Core.Tests;

/// <summary>The schema file, its embedded copy, the examples and the C# reader agree.</summary>
public sealed class ContractTests
{
    private static readonly string ContractsFolder = Path.Combine(AppContext.BaseDirectory, "Contracts");

    // Built once: JsonSchema.Net registers a schema under its $id globally.
    private static readonly JsonSchema Schema = JsonSchema.FromText(GenerationJobSchema.Text);

    public static TheoryData<string> Examples()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.GetFiles(Path.Combine(ContractsFolder, "examples"), "*.json"))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Fact]
    public void EmbeddedSchemaIsTheSchemaFile()
    {
        Assert.Equal(File.ReadAllText(Path.Combine(ContractsFolder, "generation-job.schema.json")), GenerationJobSchema.Text);
    }

    [Fact]
    public void SchemaNamesTheSamePropertiesAsTheReader()
    {
        JsonNode schema = JsonNode.Parse(GenerationJobSchema.Text)!;
        JsonNode properties = schema["properties"]!;

        AssertSameNames(GenerationJobReader.RootProperties, schema);
        AssertSameNames(GenerationJobReader.ModelProperties, properties["model"]!);
        AssertSameNames(GenerationJobReader.ClassProperties, properties["classes"]!["items"]!);
        AssertSameNames(GenerationJobReader.ItemProperties, properties["items"]!["items"]!);
        Assert.Equal([1, 2, 4, 8, 16, 32, 64, 128], properties["steps"]!["enum"]!.AsArray().Select(n => n!.GetValue<int>()));
        Assert.Equal(new GenerationJobLimits().MaxImagesPerJob, properties["items"]!["maxItems"]!.GetValue<int>());
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void ExamplesSatisfyTheSchemaAndTheReader(string file)
    {
        string text = File.ReadAllText(Path.Combine(ContractsFolder, "examples", file));
        using JsonDocument document = JsonDocument.Parse(text);
        EvaluationResults evaluation = Schema.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        JobReadResult read = new GenerationJobReader(new GenerationJobLimits()).Read(text);

        Assert.True(evaluation.IsValid, string.Join("; ", (evaluation.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Values)));
        Assert.True(read.Job is not null, string.Join("; ", read.Reasons));
    }

    [Theory]
    [InlineData("""{ "model": { "name": "fashion" }, "classes": [ { "count": 1 } ], "steps": 3 }""")]
    [InlineData("""{ "model": { "name": "fashion" }, "classes": [ { "count": 1 } ], "items": [ {} ], "steps": 4 }""")]
    [InlineData("""{ "model": { "name": "fashion" }, "steps": 4 }""")]
    [InlineData("""{ "model": { "name": "fashion" }, "classes": [ { "count": 1 } ], "steps": 4, "extra": 1 }""")]
    [InlineData("""{ "model": { "name": "fashion" }, "items": [ { "seed": -1 } ], "steps": 4 }""")]
    [InlineData("""{ "id": "a b", "model": { "name": "fashion" }, "items": [ {} ], "steps": 4 }""")]
    public void SchemaAndReaderRejectTheSameBadJobs(string text)
    {
        using JsonDocument document = JsonDocument.Parse(text);
        Assert.False(Schema.Evaluate(document.RootElement).IsValid);
        Assert.NotEmpty(new GenerationJobReader(new GenerationJobLimits()).Read(text).Reasons);
    }

    [Fact]
    public void PerImageSeedsAreTheJobSeedPlusTheIndexWrappedBelowTwoToThe63()
    {
        var job = new GenerationJob
        {
            Id = "j",
            Model = new ModelReference("fashion", null),
            Classes = [new ClassRequest(1, 2), new ClassRequest(null, 1)],
            Steps = 4,
            Seed = long.MaxValue - 1,
        };

        Assert.Equal(
            [new ImageRequest(0, 1, long.MaxValue - 1), new ImageRequest(1, 1, long.MaxValue), new ImageRequest(2, null, 0)],
            job.ExpandImages());
    }

    [Fact]
    public void WorkItemsRoundTripAsPlainOrBase64Json()
    {
        var item = new WorkItem
        {
            JobId = "j1",
            Model = "fashion",
            ModelVersion = "v3",
            Steps = 4,
            CfgScale = 1.5,
            Images = [new ImageRequest(0, 3, 42), new ImageRequest(1, null, 43)],
        };
        string json = item.ToJson();

        using JsonDocument document = JsonDocument.Parse(json);
        Assert.Equal("v3", document.RootElement.GetProperty("modelVersion").GetString());
        Assert.Equal("normal", document.RootElement.GetProperty("priority").GetString());
        Assert.False(document.RootElement.GetProperty("images")[1].TryGetProperty("label", out _));
        Assert.Equal(item.Images, WorkItem.Parse(json).Images);
        Assert.Equal(item with { Images = [] }, WorkItem.Parse(Convert.ToBase64String(Encoding.UTF8.GetBytes(json))) with { Images = [] });
        Assert.Throws<FormatException>(() => WorkItem.Parse("{ \"jobId\": \"j1\" }"));
        Assert.Throws<FormatException>(() => WorkItem.Parse("not json"));
    }

    [Fact]
    public void DerivedIdsAreValidJobIds()
    {
        string hash = new string('a', 64);

        Assert.Equal("msg-0f8fad5b-d9cb-469f-a165-70867728950e", GenerationJobReader.DeriveJobId("0f8fad5b-d9cb-469f-a165-70867728950e", hash));
        Assert.Equal("msg-a-b-c", GenerationJobReader.DeriveJobId("a/b c", hash));
        Assert.True(GenerationJobReader.IsValidJobId(GenerationJobReader.DeriveJobId(new string('z', 200), hash)));
        Assert.Equal("sha-" + new string('a', 32), GenerationJobReader.DeriveJobId(null, hash));
    }

    private static void AssertSameNames(IEnumerable<string> readerNames, JsonNode schemaObject)
    {
        Assert.False(schemaObject["additionalProperties"]!.GetValue<bool>());
        Assert.Equal(
            readerNames.Order(StringComparer.Ordinal),
            schemaObject["properties"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
    }
}
