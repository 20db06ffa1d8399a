using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
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
    public void EveryValueOfTheSchemaHasTheWordsOfItsRule()
    {
        JsonNode schema = JsonNode.Parse(GenerationJobSchema.Text)!;
        Assert.Equal([1, 2, 4, 8, 16, 32, 64, 128], schema["properties"]!["steps"]!["enum"]!.AsArray().Select(n => n!.GetValue<int>()));
        Assert.Equal(new GenerationJobLimits().MaxImagesPerJob, schema["properties"]!["items"]!["maxItems"]!.GetValue<int>());
        AssertEveryValueHasARule(schema, "$");
    }

    [Fact]
    public void ReaderTakesEveryPropertyTheSchemaNames()
    {
        const string withClasses = """
            { "id": "all-1", "model": { "name": "fashion", "version": "v3" }, "classes": [ { "label": 2, "count": 3 }, { "label": null, "count": 1 } ],
              "steps": 8, "cfgScale": 2.5, "seed": 9, "priority": "high", "deadline": "2030-01-01T12:00:00+01:00", "callbackUrl": "https://example.com/done" }
            """;
        const string withItems = """{ "model": { "name": "fashion" }, "items": [ { "label": 4, "seed": 7 }, { } ], "steps": 1.0, "priority": "low" }""";
        var reader = new GenerationJobReader(new GenerationJobLimits());

        GenerationJob classes = AssertValid(reader.Read(withClasses));
        GenerationJob items = AssertValid(reader.Read(withItems));

        Assert.Equal(("all-1", new ModelReference("fashion", "v3"), 8, 2.5, 9L, JobPriority.High), (classes.Id, classes.Model, classes.Steps, classes.CfgScale, classes.Seed, classes.Priority));
        Assert.Equal([new ClassRequest(2, 3), new ClassRequest(null, 1)], classes.Classes!);
        Assert.Equal(new DateTimeOffset(2030, 1, 1, 11, 0, 0, TimeSpan.Zero), classes.Deadline);
        Assert.Equal(new Uri("https://example.com/done"), classes.CallbackUrl);
        Assert.Equal([new ItemRequest(4, 7), new ItemRequest(null, null)], items.Items!);
        Assert.Equal((1, JobPriority.Low, 1.0, new ModelReference("fashion", null)), (items.Steps, items.Priority, items.CfgScale, items.Model));

        // Every property of the schema (and of its objects) was set by one of the two jobs.
        JsonNode schema = JsonNode.Parse(GenerationJobSchema.Text)!;
        var used = new HashSet<string>(PropertyPaths(JsonNode.Parse(withClasses)!, "$").Concat(PropertyPaths(JsonNode.Parse(withItems)!, "$")));
        Assert.All(PropertyPaths(schema, "$", ofSchema: true), path => Assert.Contains(path, used));
    }

    [Fact]
    public void ConfiguredImageLimitIsTheSchemasLimit()
    {
        var limits = new GenerationJobLimits { MaxImagesPerJob = 1000 };
        var reader = new GenerationJobReader(limits);

        JsonNode configured = JsonNode.Parse(GenerationJobSchema.TextFor(limits))!;
        Assert.Equal(1000, configured["properties"]!["items"]!["maxItems"]!.GetValue<int>());
        AssertValid(reader.Read("""{ "model": { "name": "fashion" }, "classes": [ { "count": 600 } ], "steps": 4 }"""));
        Assert.Contains(reader.Read("""{ "model": { "name": "fashion" }, "classes": [ { "count": 1001 } ], "steps": 4 }""").Reasons,
            reason => reason.StartsWith("$.classes[0].count must be an integer from 1 to 1000; got the number 1001", StringComparison.Ordinal));
        Assert.Contains(new GenerationJobReader(new GenerationJobLimits()).Read("""{ "model": { "name": "fashion" }, "classes": [ { "count": 600 } ], "steps": 4 }""").Reasons,
            reason => reason.StartsWith("$.classes[0].count must be an integer from 1 to 256;", StringComparison.Ordinal));
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
    public void WorkItemsAreWrittenAsTheirDocumentationShowsAndRoundTripAsPlainOrBase64Json()
    {
        const string documented = """
            { "jobId": "j1", "model": "fashion", "modelVersion": "v3", "steps": 4, "cfgScale": 1.5,
              "priority": "normal", "deadline": "2030-01-01T00:00:00+00:00",
              "images": [ { "index": 0, "label": 3, "seed": 42 }, { "index": 1, "seed": 43 } ] }
            """;
        var item = new WorkItem
        {
            JobId = "j1",
            Model = "fashion",
            ModelVersion = "v3",
            Steps = 4,
            CfgScale = 1.5,
            Deadline = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero),
            Images = [new ImageRequest(0, 3, 42), new ImageRequest(1, null, 43)],
        };
        string json = item.ToJson();

        Assert.Equal(Regex.Replace(documented, @"\s", ""), json);
        Assert.Equal(json, WorkItem.Parse(documented).ToJson());
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

    private static GenerationJob AssertValid(JobReadResult read)
    {
        Assert.True(read.Job is not null, string.Join("; ", read.Reasons));
        return read.Job;
    }

    // Each value schema says in words what its value must be; each object is closed.
    private static void AssertEveryValueHasARule(JsonNode schema, string path)
    {
        if (schema["properties"] is JsonObject properties)
        {
            Assert.False(schema["additionalProperties"]!.GetValue<bool>(), path);
            foreach ((string name, JsonNode? property) in properties)
            {
                Assert.True(property!["x-rule"] is not null, $"{path}.{name} has no x-rule");
                AssertEveryValueHasARule(property, $"{path}.{name}");
            }
        }

        if (schema["items"] is JsonObject items)
        {
            Assert.True(items["x-rule"] is not null, $"{path}[] has no x-rule");
            AssertEveryValueHasARule(items, path + "[]");
        }
    }

    // "$.model.name", "$.classes[].count", ...: the property paths of a job, or (ofSchema) those its schema names.
    private static IEnumerable<string> PropertyPaths(JsonNode node, string path, bool ofSchema = false)
    {
        IEnumerable<KeyValuePair<string, JsonNode?>> properties = ofSchema
            ? node["properties"]?.AsObject() ?? []
            : node as JsonObject ?? [];
        foreach ((string name, JsonNode? value) in properties)
        {
            yield return $"{path}.{name}";
            JsonNode? inner = ofSchema ? value!["items"] ?? value : value;
            string innerPath = (ofSchema ? value!["items"] is not null : inner is JsonArray) ? $"{path}.{name}[]" : $"{path}.{name}";
            IEnumerable<JsonNode?> children = !ofSchema && inner is JsonArray array ? array.ToArray() : new[] { inner };
            foreach (JsonNode? child in children.Where(c => c is not null))
            {
                foreach (string inside in PropertyPaths(child!, innerPath, ofSchema))
                {
                    yield return inside;
                }
            }
        }
    }
}
