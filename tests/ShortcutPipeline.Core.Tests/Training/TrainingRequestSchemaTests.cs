using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Json.Schema;
using ShortcutPipeline.Contracts;
using ShortcutPipeline.Core.Training;

namespace ShortcutPipeline.Core.Tests.Training;

/// <summary>The training request schema, the request record, the reader and <see cref="TrainingConfig.Problems"/> agree.</summary>
public sealed class TrainingRequestSchemaTests
{
    private const string Minimal = """{ "model": "fashion", "preset": "DiT-Small/4", "dataset": "fashion-mnist", "steps": 500 }""";

    private static readonly JsonNode Schema = JsonNode.Parse(TrainingRequestSchema.Text)!;

    private static readonly TrainingRequestReader Reader = new();

    private static readonly JsonSchema Evaluator = JsonSchema.FromText(TrainingRequestSchema.Text, new BuildOptions { SchemaRegistry = new SchemaRegistry() });

    [Fact]
    public void SchemaNamesEveryPropertyOfARequestWithItsRule()
    {
        string[] requestProperties = typeof(TrainingRequest).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
            .Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name)).Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(requestProperties, Schema["properties"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.False(Schema["additionalProperties"]!.GetValue<bool>());
        Assert.False(Schema["properties"]!["promotion"]!["additionalProperties"]!.GetValue<bool>());
        Assert.All(Schema["properties"]!.AsObject().Concat(Schema["properties"]!["promotion"]!["properties"]!.AsObject()),
            property => Assert.True(property.Value!["x-rule"] is not null, $"{property.Key} has no x-rule"));
        Assert.All(TrainingConfig.Rules, rule => Assert.Equal(Schema["properties"]![rule.Key]!["x-rule"]!.GetValue<string>(), rule.Value));
    }

    [Fact]
    public void WhatTheLauncherSendsSatisfiesTheSchema()
    {
        TrainingRequest request = TrainingRequest.Create(
            new TrainingConfig { Preset = "DiT-Tiny/2", InputSize = 16, Channels = 3, Objective = TrainingObjective.FlowMatching, BootstrapSource = BootstrapSource.EmaWithWarmup, BootstrapCfgScale = 1.5, EmaWarmup = true, BFloat16 = true, Seed = 3 },
            "run-1", "fashion", "blob:shoes/", 40) with
        {
            DatasetLimit = 100,
            Promotion = new PromotionPolicy { Budget = 4, MaxFrechetDistance = 50 },
        };
        using JsonDocument json = JsonDocument.Parse(request.ToJson());
        EvaluationResults evaluation = Evaluator.Evaluate(json.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List, RequireFormatValidation = true });

        Assert.True(evaluation.IsValid, string.Join("; ", (evaluation.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Values)));
        Assert.Equal(request, Reader.Read(request.ToJson()).Request);
    }

    /// <summary>
    /// At and just beyond every bound the schema states for a training setting, the schema and
    /// <see cref="TrainingConfig.Problems"/> (which checks values that come from the CLI) give the same verdict.
    /// </summary>
    [Fact]
    public void SchemaBoundsAreTheBoundsOfTheTrainingConfig()
    {
        int probes = 0;
        foreach ((string name, PropertyInfo property) in TrainingRequestReader.TrainingConfigProperties)
        {
            Type type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            foreach (object value in Probes(Schema["properties"]![name]!, type))
            {
                string json = JsonSerializer.Serialize(value, value is Enum ? JsonOptions : null);
                JsonObject request = JsonNode.Parse(Minimal)!.AsObject();
                request[name] = JsonNode.Parse(json);
                using JsonDocument document = JsonDocument.Parse(request.ToJsonString());
                bool schemaAccepts = Evaluator.Evaluate(document.RootElement, new EvaluationOptions { RequireFormatValidation = true }).IsValid;
                var config = new TrainingConfig();
                property.SetValue(config, value);
                bool recordAccepts = config.Problems().Count == 0;

                Assert.True(schemaAccepts == recordAccepts, $"{name} = {json}: the schema {(schemaAccepts ? "accepts" : "rejects")} it, Problems() {(recordAccepts ? "accepts" : "rejects")} it");
                probes++;
            }
        }

        Assert.True(probes > 50, $"only {probes} probes");
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) } };

    private static IEnumerable<object> Probes(JsonNode schema, Type type)
    {
        if (type.IsEnum)
        {
            return Enum.GetValues(type).Cast<object>();
        }

        if (type == typeof(bool))
        {
            return [true, false];
        }

        if (type == typeof(string))
        {
            return ["DiT-Tiny/2", "", " DiT-Tiny/2", new string('p', 64), new string('p', 65)];
        }

        var bounds = new List<decimal>();
        foreach (string keyword in new[] { "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum" })
        {
            if (schema[keyword] is JsonValue bound)
            {
                bounds.Add(bound.GetValue<decimal>());
            }
        }

        foreach (JsonNode? member in schema["enum"]?.AsArray() ?? [])
        {
            if (member is not null)
            {
                bounds.Add(member.GetValue<decimal>());
            }
        }

        decimal step = type == typeof(double) ? 0.001m : 1;
        return bounds.SelectMany(b => new[] { b - step, b, b + step })
            .Where(v => type != typeof(int) || v is >= int.MinValue and <= int.MaxValue)
            .Where(v => type != typeof(long) || v is >= long.MinValue and <= long.MaxValue)
            .Select(v => type == typeof(int) ? (object)(int)v : type == typeof(long) ? (long)v : (object)(double)v)
            .ToArray();
    }
}
