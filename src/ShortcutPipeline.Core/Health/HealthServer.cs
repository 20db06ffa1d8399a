using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

// The health endpoints of the worker and the trainer: their options (HealthOptions), the readiness checks they run
// (IReadinessCheck; the storage check is StorageReadinessCheck.cs, the worker adds its models check), the report, the
// server and its registration (AddShortcutPipelineHealth).

namespace ShortcutPipeline.Core.Health;

/// <summary>
/// The health endpoints of the worker and the trainer (configuration section <see cref="SectionName"/>): liveness on
/// <see cref="LivePath"/> and readiness on <see cref="ReadyPath"/>, over HTTP on <see cref="Port"/> (the setting
/// <see cref="PortSetting"/>, default <see cref="DefaultPort"/>) on every interface. The container apps' probes use them.
/// </summary>
public sealed class HealthOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "ShortcutPipeline:Health";

    /// <summary>The app setting (environment variable) of <see cref="Port"/>.</summary>
    public const string PortSetting = "ShortcutPipeline__Health__Port";

    /// <summary>The port when none is set.</summary>
    public const int DefaultPort = 8080;

    /// <summary>The liveness path: 200 while the process serves requests.</summary>
    public const string LivePath = "/healthz";

    /// <summary>The readiness path: 200 when every readiness check passes, else 503; the JSON body says what each found.</summary>
    public const string ReadyPath = "/readyz";

    /// <summary>The TCP port (default <see cref="DefaultPort"/>).</summary>
    public int Port { get; set; } = DefaultPort;

    /// <summary>How long the readiness checks of one request may take before they count as failed (default 3 s).</summary>
    public TimeSpan CheckTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Throws when a setting is out of range, naming it.</summary>
    public void Validate()
    {
        if (Port is < 1 or > 65535)
        {
            throw new InvalidOperationException($"{PortSetting} must be a TCP port from 1 to 65535, not {Port}.");
        }

        if (CheckTimeout <= TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{SectionName}:{nameof(CheckTimeout)} must be a positive duration, not {CheckTimeout}.");
        }
    }
}

/// <summary>What one readiness check found.</summary>
/// <param name="Ready">Whether the app is ready as far as this check goes.</param>
/// <param name="Detail">What it found, in words (what is missing when not ready).</param>
public sealed record ReadinessResult(bool Ready, string Detail);

/// <summary>One condition of readiness (<see cref="HealthOptions.ReadyPath"/>): storage reachable, models loaded.</summary>
public interface IReadinessCheck
{
    /// <summary>The check's name in the readiness report.</summary>
    string Name { get; }

    /// <summary>Checks now. A check that throws, or does not answer within <see cref="HealthOptions.CheckTimeout"/>, counts as not ready.</summary>
    Task<ReadinessResult> CheckAsync(CancellationToken cancellationToken);
}

/// <summary>The body of a health response.</summary>
/// <param name="Status"><c>alive</c> (liveness), <c>ready</c> or <c>not-ready</c>.</param>
/// <param name="Checks">What each readiness check found (empty for liveness).</param>
public sealed record HealthReport(string Status, IReadOnlyList<HealthCheckReport> Checks);

/// <summary>What one readiness check found.</summary>
/// <param name="Name">The check (<see cref="IReadinessCheck.Name"/>).</param>
/// <param name="Ready">Whether it passed.</param>
/// <param name="Detail">What it found.</param>
public sealed record HealthCheckReport(string Name, bool Ready, string Detail);

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

/// <summary>Registers the health endpoints (the worker and trainer hosts call this; they may register more <see cref="IReadinessCheck"/>s).</summary>
public static class HealthServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="HealthOptions"/> (bound from <see cref="HealthOptions.SectionName"/>, validated at start), the singleton
    /// <see cref="HealthServer"/> and it as a hosted service, serving every registered <see cref="IReadinessCheck"/>, and the
    /// check "storage" (<see cref="StorageReadinessCheck"/>) of the app's <paramref name="queue"/> and <paramref name="table"/>.
    /// </summary>
    public static IServiceCollection AddShortcutPipelineHealth(
        this IServiceCollection services, IConfiguration configuration, Func<PipelineStorage, QueueClient> queue, Func<PipelineStorage, TableClient> table)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(table);
        services.AddOptions<HealthOptions>().Bind(configuration.GetSection(HealthOptions.SectionName))
            .Validate(options => { options.Validate(); return true; })
            .ValidateOnStart();
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<HealthOptions>>().Value);
        services.TryAddSingleton<HealthServer>();
        services.AddHostedService(sp => sp.GetRequiredService<HealthServer>());
        services.AddSingleton<IReadinessCheck>(sp =>
        {
            PipelineStorage storage = sp.GetRequiredService<PipelineStorage>();
            return new StorageReadinessCheck(storage, queue(storage), table(storage));
        });
        return services;
    }
}
