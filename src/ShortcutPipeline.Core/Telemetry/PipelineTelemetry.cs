using System.Diagnostics;

namespace ShortcutPipeline.Core.Telemetry;

/// <summary>
/// The pipeline's own spans: one <see cref="ActivitySource"/> (<see cref="SourceName"/>) for the intake, the job status
/// changes, the recording of images and the trainer's runs, with the names of <see cref="SpanNames"/> and the attributes of
/// <see cref="TelemetryAttributes"/>; every span about a job carries its id (<see cref="TelemetryAttributes.JobId"/>). What exports
/// them is set up by <see cref="TelemetryServiceCollectionExtensions.AddShortcutPipelineTelemetry"/>.
/// </summary>
public static class PipelineTelemetry
{
    /// <summary>The name of the activity source (and of the meter of <see cref="JobMetrics"/>).</summary>
    public const string SourceName = "ShortcutPipeline";

    /// <summary>The service name (cloud role) of the Functions app.</summary>
    public const string FunctionsService = "shortcut-functions";

    /// <summary>The service name (cloud role) of the GPU worker.</summary>
    public const string WorkerService = "shortcut-worker";

    /// <summary>The service name (cloud role) of the trainer.</summary>
    public const string TrainerService = "shortcut-trainer";

    /// <summary>The activity source.</summary>
    public static ActivitySource Source { get; } = new(SourceName, typeof(PipelineTelemetry).Assembly.GetName().Version?.ToString());

    /// <summary>
    /// Runs <paramref name="body"/> in a span named <paramref name="name"/> (a child of the current one), for job
    /// <paramref name="jobId"/> when given. An exception marks the span as failed (status Error, with an exception event)
    /// and is rethrown. The span handed to <paramref name="body"/> is null when nothing listens.
    /// </summary>
    public static async Task<T> TraceAsync<T>(string name, string? jobId, Func<Activity?, Task<T>> body)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(body);
        using Activity? activity = Source.StartActivity(name, ActivityKind.Internal);
        activity?.SetTag(TelemetryAttributes.JobId, jobId);
        try
        {
            return await body(activity).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
            activity?.AddException(exception);
            throw;
        }
    }

    /// <summary>An enum value as the spans and metrics write it (lower case).</summary>
    public static string Lower<TEnum>(TEnum value) where TEnum : struct, Enum => value.ToString().ToLowerInvariant();
}
