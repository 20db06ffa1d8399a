using Microsoft.Extensions.Configuration;
using ShortcutPipeline.Core.Jobs;
using ShortcutPipeline.Core.Telemetry;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Core.Tests.Telemetry;

/// <summary>Where the shared setup sends telemetry: Application Insights with a connection string, standard output without.</summary>
[Collection(TelemetryCollection.Name)]
public sealed class TelemetryExportTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static readonly string ConsoleSwitch = $"{TelemetryOptions.SectionName}:{nameof(TelemetryOptions.Console)}";

    [Theory]
    [InlineData(null, null, TelemetryExporter.Console)]
    [InlineData("  ", null, TelemetryExporter.Console)]
    [InlineData(null, "false", TelemetryExporter.None)]
    [InlineData("InstrumentationKey=00000000-0000-0000-0000-000000000001", null, TelemetryExporter.AzureMonitor)]
    [InlineData("InstrumentationKey=00000000-0000-0000-0000-000000000001", "false", TelemetryExporter.AzureMonitor)]
    public void TheExporterIsAzureMonitorOnlyWhenTheConnectionStringIsSet(string? connectionString, string? console, TelemetryExporter expected)
    {
        var settings = new Dictionary<string, string?> { [SettingNames.ApplicationInsightsConnectionString] = connectionString };
        if (console is not null)
        {
            settings[ConsoleSwitch] = console;
        }

        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();

        Assert.Equal(expected, TelemetryOptions.From(configuration).Exporter);
    }

    [Fact]
    public async Task WithAConnectionStringSpansAndMetricsGoToApplicationInsightsAndNotToTheConsole()
    {
        using var ingestion = new FakeIngestion();
        using var console = new ConsoleCapture();
        string jobId = JobTelemetryTests.UniqueId("exported");
        using (TelemetryCapture telemetry = await TelemetryCapture.StartAsync(ServiceNames.Functions, settings: new Dictionary<string, string?>
        {
            [SettingNames.ApplicationInsightsConnectionString] = ingestion.ConnectionString,
        }))
        {
            await SubmitJobAsync(jobId);
            telemetry.Flush();
        }

        await Wait.UntilAsync(
            () => ingestion.Telemetry.Any(body => body.Contains(jobId, StringComparison.Ordinal))
                && ingestion.Telemetry.Any(body => body.Contains(JobMetrics.JobsSubmitted, StringComparison.Ordinal)),
            TimeSpan.FromSeconds(60), () => $"the ingestion endpoint received: {string.Join("\n", ingestion.Telemetry)}");
        string span = ingestion.Telemetry.First(body => body.Contains(jobId, StringComparison.Ordinal));
        Assert.Contains(SpanNames.SubmitJob, span, StringComparison.Ordinal);
        Assert.Contains(ServiceNames.Functions, span, StringComparison.Ordinal);   // the cloud role
        Assert.DoesNotContain(jobId, console.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(JobMetrics.JobsSubmitted, console.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutOneSpansAndMetricsGoToTheConsole()
    {
        using var console = new ConsoleCapture();
        string jobId = JobTelemetryTests.UniqueId("printed");
        using (TelemetryCapture telemetry = await TelemetryCapture.StartAsync(ServiceNames.Worker, settings: new Dictionary<string, string?>()))
        {
            await SubmitJobAsync(jobId);
            telemetry.Flush();
        }

        string printed = console.Text;
        Assert.Contains(SpanNames.SubmitJob, printed, StringComparison.Ordinal);
        Assert.Contains($"{TelemetryAttributes.JobId}: {jobId}", printed, StringComparison.Ordinal);
        Assert.Contains(JobMetrics.JobsSubmitted, printed, StringComparison.Ordinal);
        Assert.Contains(ServiceNames.Worker, printed, StringComparison.Ordinal);
    }

    private async Task SubmitJobAsync(string jobId)
    {
        TestPipeline pipeline = await TestPipeline.CreateAsync(azurite);
        await pipeline.RegisterModelAsync("fashion", "v1");
        await JobProgressTests.SubmitAsync(pipeline, jobId, images: 1);
        Assert.Equal(JobState.Queued, (await pipeline.Status.GetAsync(jobId))?.State);
    }
}
