using Microsoft.Azure.Functions.Worker.OpenTelemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Telemetry;

namespace ShortcutPipeline.Functions;

/// <summary>Registers what the Functions app's triggers need (Program calls this).</summary>
public static class FunctionsServiceCollectionExtensions
{
    /// <summary>
    /// Adds the Core services (<see cref="PipelineServiceCollectionExtensions.AddShortcutPipelineCore"/>) and telemetry as
    /// <see cref="ServiceNames.Functions"/> (<see cref="TelemetryServiceCollectionExtensions.AddShortcutPipelineTelemetry"/>)
    /// with the Functions worker's defaults: its invocation spans (the parents of the intake's) and its resource, which names
    /// the service as the Functions host does (the Function App's name, its cloud role in Application Insights). host.json's
    /// <c>telemetryMode</c> makes the Functions host export OpenTelemetry too, so both end up in one trace.
    /// </summary>
    public static IServiceCollection AddShortcutPipelineFunctions(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddShortcutPipelineCore(configuration);
        services.AddShortcutPipelineTelemetry(configuration, ServiceNames.Functions).UseFunctionsWorkerDefaults();
        return services;
    }
}
