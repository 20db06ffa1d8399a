using System.Net.Http.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ShortcutPipeline.Core.Jobs;

/// <summary>
/// POSTs a job's <see cref="JobStatus"/> JSON to its callback URL when the job ends. Failures (refused
/// connections, timeouts, non-success answers) are logged and reported as false, never thrown: a job's
/// outcome does not depend on the client's endpoint.
/// </summary>
public sealed class JobCallbackClient
{
    private readonly HttpClient httpClient;
    private readonly ILogger logger;

    /// <summary>A client over <paramref name="httpClient"/> (a new one when null) with the timeout of <paramref name="options"/>.</summary>
    public JobCallbackClient(HttpClient? httpClient = null, JobStatusOptions? options = null, ILogger<JobCallbackClient>? logger = null)
    {
        this.httpClient = httpClient ?? new HttpClient { Timeout = (options ?? new JobStatusOptions()).CallbackTimeout };
        this.logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>Sends <paramref name="status"/> to <paramref name="callbackUrl"/>; true when the endpoint answered 2xx.</summary>
    public async Task<bool> SendAsync(Uri callbackUrl, JobStatus status, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(callbackUrl);
        ArgumentNullException.ThrowIfNull(status);
        try
        {
            using HttpResponseMessage response = await httpClient
                .PostAsJsonAsync(callbackUrl, status, Core.PipelineJson.Options, cancellationToken)
                .ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                return true;
            }

            logger.LogWarning("The callback {CallbackUrl} of job {JobId} answered {StatusCode}.", callbackUrl, status.Id, (int)response.StatusCode);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(exception, "The callback {CallbackUrl} of job {JobId} failed: {Message}", callbackUrl, status.Id, exception.Message);
        }

        return false;
    }
}
