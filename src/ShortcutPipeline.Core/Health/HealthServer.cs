using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ShortcutPipeline.Core.Health;

/// <summary>
/// Serves <see cref="HealthOptions.LivePath"/> and <see cref="HealthOptions.ReadyPath"/> over HTTP on
/// <see cref="HealthOptions.Port"/>, on every interface, while the host runs. Liveness answers 200 as long as the process
/// serves requests; readiness runs every <see cref="IReadinessCheck"/> at once (bounded by
/// <see cref="HealthOptions.CheckTimeout"/>) and answers 200 when all pass, else 503, with a JSON
/// <see cref="HealthReport"/> either way. Built on <see cref="HttpListener"/>: the worker and trainer images carry the .NET
/// runtime without ASP.NET Core. Not binding the port fails the host's start.
/// </summary>
public sealed class HealthServer : IHostedService, IDisposable
{
    private readonly HealthOptions options;
    private readonly IReadOnlyList<IReadinessCheck> checks;
    private readonly ILogger logger;
    private readonly HttpListener listener = new();
    private readonly CancellationTokenSource stopping = new();
    private Task? serving;

    /// <summary>A server of <paramref name="checks"/>.</summary>
    public HealthServer(HealthOptions options, IEnumerable<IReadinessCheck> checks, ILogger<HealthServer>? logger = null)
    {
        this.options = options ?? throw new ArgumentNullException(nameof(options));
        ArgumentNullException.ThrowIfNull(checks);
        options.Validate();
        this.checks = checks.ToList();
        this.logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>The TCP port it listens on.</summary>
    public int Port => options.Port;

    /// <summary>Starts listening (synchronously: a port that cannot be bound throws here).</summary>
    /// <exception cref="InvalidOperationException">The port cannot be bound.</exception>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        listener.Prefixes.Add(string.Create(CultureInfo.InvariantCulture, $"http://+:{options.Port}/"));
        try
        {
            listener.Start();
        }
        catch (HttpListenerException exception)
        {
            throw new InvalidOperationException(
                $"The health endpoints cannot listen on port {options.Port} ({HealthOptions.PortSetting}): {exception.Message}", exception);
        }

        logger.LogInformation("Health endpoints on port {Port}: {Live} and {Ready} ({Checks}).",
            options.Port, HealthOptions.LivePath, HealthOptions.ReadyPath, string.Join(", ", checks.Select(c => c.Name)));
        serving = Task.Run(() => ServeAsync(stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Stops listening; requests being answered are cut off.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await stopping.CancelAsync().ConfigureAwait(false);
        if (listener.IsListening)
        {
            listener.Stop();
        }

        if (serving is not null)
        {
            await serving.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Runs every readiness check now, at once, each bounded by <see cref="HealthOptions.CheckTimeout"/>.</summary>
    public async Task<HealthReport> CheckReadinessAsync(CancellationToken cancellationToken = default)
    {
        HealthCheckReport[] reports = await Task.WhenAll(checks.Select(check => RunAsync(check, cancellationToken))).ConfigureAwait(false);
        return new HealthReport(reports.All(r => r.Ready) ? "ready" : "not-ready", reports);
    }

    /// <summary>Closes the listener.</summary>
    public void Dispose()
    {
        listener.Close();
        stopping.Dispose();
    }

    private async Task ServeAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    return;
                }

                logger.LogWarning(exception, "The health endpoint failed to take a request; going on.");
                continue;
            }

            // Each request on its own: a slow readiness check never holds up liveness.
            _ = Task.Run(() => AnswerAsync(context, cancellationToken), CancellationToken.None);
        }
    }

    private async Task AnswerAsync(HttpListenerContext context, CancellationToken cancellationToken)
    {
        HttpListenerResponse response = context.Response;
        try
        {
            string path = context.Request.Url?.AbsolutePath ?? "";
            (HttpStatusCode status, HealthReport? report) = path switch
            {
                _ when context.Request.HttpMethod is not ("GET" or "HEAD") => (HttpStatusCode.MethodNotAllowed, null),
                HealthOptions.LivePath => (HttpStatusCode.OK, new HealthReport("alive", [])),
                HealthOptions.ReadyPath => Ready(await CheckReadinessAsync(cancellationToken).ConfigureAwait(false)),
                _ => (HttpStatusCode.NotFound, null),
            };
            response.StatusCode = (int)status;
            response.Headers["Cache-Control"] = "no-store";
            if (report is not null)
            {
                byte[] body = JsonSerializer.SerializeToUtf8Bytes(report, PipelineJson.Options);
                response.ContentType = "application/json";
                response.ContentLength64 = body.Length;
                if (context.Request.HttpMethod == "GET")
                {
                    await response.OutputStream.WriteAsync(body, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (Exception exception) when (exception is HttpListenerException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            logger.LogDebug(exception, "A health request was cut off.");
        }
        finally
        {
            try
            {
                response.Close();
            }
            catch (Exception exception) when (exception is HttpListenerException or ObjectDisposedException)
            {
                logger.LogDebug(exception, "A health response could not be closed.");
            }
        }
    }

    private static (HttpStatusCode, HealthReport?) Ready(HealthReport report) =>
        (report.Status == "ready" ? HttpStatusCode.OK : HttpStatusCode.ServiceUnavailable, report);

    private async Task<HealthCheckReport> RunAsync(IReadinessCheck check, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.CheckTimeout);
        try
        {
            ReadinessResult result = await check.CheckAsync(timeout.Token).WaitAsync(timeout.Token).ConfigureAwait(false);
            return new HealthCheckReport(check.Name, result.Ready, result.Detail);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckReport(check.Name, false, string.Create(CultureInfo.InvariantCulture, $"no answer within {options.CheckTimeout}."));
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            return new HealthCheckReport(check.Name, false, $"{exception.GetType().Name}: {exception.Message}");
        }
    }
}
