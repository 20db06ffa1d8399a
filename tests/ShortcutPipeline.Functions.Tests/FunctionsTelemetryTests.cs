using System.Diagnostics;
using System.Text.Json;
using Azure.Storage.Queues.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OpenTelemetry;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Core.Telemetry;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Functions.Tests;

/// <summary>The Functions app's telemetry, registered as Program registers it, exported to memory.</summary>
public sealed class FunctionsTelemetryTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task TheQueuedIntakeIsASpanWithTheJobIdUnderTheFunctionsWorkerDefaults()
    {
        PipelineStorage storage = await azurite.CreateStorageAsync();
        Dictionary<string, string?> settings = storage.Options.ToSettings(azurite.ConnectionString);
        foreach ((string name, string? value) in TelemetryCapture.Quiet)
        {
            settings[name] = value;
        }

        using TelemetryCapture telemetry = await TelemetryCapture.StartAsync((services, configuration) => services
            .AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
            .AddSingleton(typeof(ILogger<>), typeof(Logger<>))
            .AddShortcutPipelineFunctions(configuration), settings);
        TestPipeline pipeline = TestPipeline.Over(storage);
        await pipeline.RegisterModelAsync("fashion", "v1");
        await storage.JobsQueue.SendMessageAsync("""{ "id": "functions-traced", "model": { "name": "fashion" }, "classes": [ { "count": 2 } ], "steps": 2 }""");
        QueueMessage message = (await storage.JobsQueue.ReceiveMessageAsync()).Value;

        await ActivatorUtilities.CreateInstance<JobQueueFunction>(telemetry.Services).RunAsync(message, CancellationToken.None);
        telemetry.Flush();

        Activity submit = Assert.Single(telemetry.SpansOfJob("functions-traced"));
        Assert.Equal((SpanNames.SubmitJob, "accepted"), (submit.OperationName, submit.GetTagItem(TelemetryAttributes.Outcome)));
        // The Functions worker's defaults describe the app as the Functions host does (its name is the Function App's).
        Assert.Contains("ai.sdk.prefix", telemetry.Tracer.GetResource().Attributes.Select(attribute => attribute.Key));
    }

    [Fact]
    public void TheFunctionsHostExportsOpenTelemetryToo()
    {
        using JsonDocument host = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryPaths.Root, "host.json")));

        Assert.Equal("OpenTelemetry", host.RootElement.GetProperty("telemetryMode").GetString());
    }
}
