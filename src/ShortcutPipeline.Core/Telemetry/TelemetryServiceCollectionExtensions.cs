using System.Diagnostics;
using System.Reflection;
using Azure.Monitor.OpenTelemetry.Exporter;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace ShortcutPipeline.Core.Telemetry;

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
