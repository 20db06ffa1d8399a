using Microsoft.Extensions.Configuration;

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
