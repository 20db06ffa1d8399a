using System.Diagnostics;
using System.Reflection;
using Azure.Monitor.OpenTelemetry.Exporter;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

// Where the telemetry goes (TelemetryOptions: Application Insights, the console or nowhere) and how the three apps set it up
// (AddShortcutPipelineTelemetry). What is emitted: PipelineTelemetry.cs.

namespace ShortcutPipeline.Core.Telemetry;

/// <summary>Where the telemetry of an app goes (<see cref="TelemetryOptions.Exporter"/>).</summary>
public enum TelemetryExporter
{
    /// <summary>Application Insights: traces, metrics and logs, to the resource of <see cref="SettingNames.ApplicationInsightsConnectionString"/>.</summary>
    AzureMonitor,

    /// <summary>Standard output: spans as they end and metrics every minute (logs go there already).</summary>
    Console,

    /// <summary>Nowhere (the local console export is switched off).</summary>
    None,
}

/// <summary>
/// The telemetry settings of the Functions app, the worker and the trainer: the Application Insights connection string
/// (<see cref="SettingNames.ApplicationInsightsConnectionString"/>, set by both deployment stacks) and the configuration
/// section <see cref="SectionName"/> (<c>ShortcutPipeline__Telemetry__Console=false</c>).
/// </summary>
public sealed class TelemetryOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ShortcutPipeline:Telemetry";

    /// <summary>Without a connection string: print spans and metrics to standard output (default true).</summary>
    public bool Console { get; set; } = true;

    /// <summary>The Application Insights connection string, or null when it is not set (or blank).</summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// <see cref="TelemetryExporter.AzureMonitor"/> when <see cref="ConnectionString"/> is set, else
    /// <see cref="TelemetryExporter.Console"/> unless <see cref="Console"/> is off.
    /// </summary>
    public TelemetryExporter Exporter =>
        !string.IsNullOrWhiteSpace(ConnectionString) ? TelemetryExporter.AzureMonitor
        : Console ? TelemetryExporter.Console
        : TelemetryExporter.None;

    /// <summary>The options in <paramref name="configuration"/>.</summary>
    public static TelemetryOptions From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new TelemetryOptions();
        configuration.GetSection(SectionName).Bind(options);
        string? connectionString = configuration[SettingNames.ApplicationInsightsConnectionString];
        options.ConnectionString = string.IsNullOrWhiteSpace(connectionString) ? null : connectionString;
        return options;
    }
}

/// <summary>Sets up OpenTelemetry the same way for the Functions app, the worker and the trainer.</summary>
public static class TelemetryServiceCollectionExtensions
{
    /// <summary>
    /// Adds OpenTelemetry tracing and metrics as service <paramref name="serviceName"/> (the cloud role in Application
    /// Insights): the spans of <see cref="PipelineTelemetry.Source"/>, the HTTP calls made inside them (storage, callbacks;
    /// calls outside any span, such as queue polling, are measured but not traced), the meters <see cref="JobMetrics.MeterName"/>
    /// and <paramref name="meterNames"/>, HTTP client and .NET runtime metrics. They are exported as
    /// <see cref="TelemetryOptions.From"/>(<paramref name="configuration"/>) says: to Application Insights (traces, metrics and
    /// logs) when <see cref="SettingNames.ApplicationInsightsConnectionString"/> is set, else to standard output. Returns the
    /// builder, for app-specific additions (the Functions worker's defaults, a test's in-memory exporter).
    /// </summary>
    public static IOpenTelemetryBuilder AddShortcutPipelineTelemetry(
        this IServiceCollection services, IConfiguration configuration, string serviceName, params IEnumerable<string> meterNames)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceName);
        ArgumentNullException.ThrowIfNull(meterNames);
        TelemetryOptions options = TelemetryOptions.From(configuration);
        string[] meters = [JobMetrics.MeterName, .. meterNames];

        IOpenTelemetryBuilder builder = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(
                serviceName, serviceVersion: Assembly.GetEntryAssembly()?.GetName().Version?.ToString(), serviceInstanceId: Environment.MachineName))
            .WithTracing(tracing => tracing
                .AddSource(PipelineTelemetry.SourceName)
                .AddHttpClientInstrumentation(http => http.FilterHttpRequestMessage = _ => IsInsideASpan()))
            .WithMetrics(metrics => metrics
                .AddMeter(meters)
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation());

        switch (options.Exporter)
        {
            case TelemetryExporter.AzureMonitor:
                builder.UseAzureMonitorExporter(azure =>
                {
                    azure.ConnectionString = options.ConnectionString;
                    // Every job's trace, not a rate-limited sample: a job's spans are few, and the job id must find them.
                    azure.TracesPerSecond = null;
                    azure.SamplingRatio = 1.0F;
                });
                break;
            case TelemetryExporter.Console:
                builder.WithTracing(tracing => tracing.AddConsoleExporter()).WithMetrics(metrics => metrics.AddConsoleExporter());
                break;
        }

        return builder;
    }

    // Called as an HTTP call's span starts, when it is the current activity: traced only when it has a parent span.
    private static bool IsInsideASpan() => Activity.Current?.Parent is not null;
}
