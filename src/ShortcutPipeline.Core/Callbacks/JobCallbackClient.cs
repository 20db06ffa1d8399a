using System.Net.Http.Headers;
using System.Net.Sockets;
using ShortcutPipeline.Core.Jobs;

namespace ShortcutPipeline.Core.Callbacks;

/// <summary>What <see cref="JobCallbackClient.SendAsync"/> did.</summary>
public enum CallbackOutcome
{
    /// <summary>The endpoint answered 2xx.</summary>
    Delivered,

    /// <summary>The URL was refused (<see cref="CallbackTargetGuard"/>): nothing was sent, nothing was connected to.</summary>
    Refused,

    /// <summary>Every attempt failed (no answer, a refused connection, a timeout, a non-2xx answer).</summary>
    Failed,
}

/// <summary>
/// POSTs a job's <see cref="JobStatus"/> JSON to its callback URL when the job ends. Before each attempt the URL is
/// checked by <see cref="Guard"/> (https only unless allowed, public addresses only, not the storage account) and the
/// connection is made to an address that check resolved and allowed, never to one resolved again later; redirects are
/// not followed and answers' bodies are never read. Each attempt has <see cref="CallbackOptions.Timeout"/>; a failure
/// that may pass (no connection, a timeout, 408, 429, 5xx) is tried again, up to <see cref="CallbackOptions.MaxAttempts"/>
/// attempts with a doubling delay. Requests are signed (<see cref="CallbackSignature"/>) with
/// <see cref="CallbackOptions.SigningSecret"/>. Failures are logged and reported, never thrown: a job's outcome does
/// not depend on the client's endpoint.
/// </summary>
public sealed class JobCallbackClient
{
    private static readonly HttpRequestOptionsKey<IReadOnlyList<IPAddress>> CheckedAddresses = new("ShortcutPipeline.Callbacks.CheckedAddresses");

    private readonly CallbackOptions options;
    private readonly HttpClient httpClient;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private int warnedUnsigned;

    /// <summary>A client with <paramref name="options"/> (the defaults when null) that refuses <paramref name="storage"/>'s own endpoints.</summary>
    public JobCallbackClient(
        PipelineStorage storage, CallbackOptions? options = null, TimeProvider? time = null, ILogger<JobCallbackClient>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(storage);
        this.options = options ?? new CallbackOptions();
        this.time = time ?? TimeProvider.System;
        this.logger = logger ?? (ILogger)NullLogger.Instance;
        PipelineStorageClients clients = storage.Clients;
        Guard = new CallbackTargetGuard(this.options, [clients.BlobService.Uri, clients.QueueService.Uri, clients.TableService.Uri], this.time);
        httpClient = new HttpClient(CreateHandler(), disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The check every callback URL passes, at intake and before each attempt.</summary>
    public CallbackTargetGuard Guard { get; }

    /// <summary>Sends <paramref name="status"/> to <paramref name="callbackUrl"/>.</summary>
    public async Task<CallbackOutcome> SendAsync(Uri callbackUrl, JobStatus status, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(callbackUrl);
        ArgumentNullException.ThrowIfNull(status);
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(status, PipelineJson.Options);
        string delivery = Guid.NewGuid().ToString("N");
        WarnOnceIfUnsigned();
        for (int attempt = 1; ; attempt++)
        {
            (CallbackOutcome? outcome, string failure) = await AttemptAsync(callbackUrl, status.Id, body, delivery, attempt, cancellationToken)
                .ConfigureAwait(false);
            if (outcome is CallbackOutcome done)
            {
                return done;
            }

            if (attempt >= options.MaxAttempts)
            {
                logger.LogWarning("The callback of job {JobId} to {Host} failed on all {Attempts} attempts; the last: {Failure}.",
                    status.Id, callbackUrl.IdnHost, attempt, failure);
                return CallbackOutcome.Failed;
            }

            TimeSpan delay = options.RetryDelay * Math.Pow(2, attempt - 1);
            logger.LogWarning("The callback of job {JobId} to {Host} failed on attempt {Attempt} ({Failure}); trying again in {Delay}.",
                status.Id, callbackUrl.IdnHost, attempt, failure, delay);
            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
        }
    }

    // One attempt: an outcome when it is final, else null and why it failed (a failure that may pass).
    private async Task<(CallbackOutcome? Outcome, string Failure)> AttemptAsync(
        Uri callbackUrl, string jobId, byte[] body, string delivery, int attempt, CancellationToken cancellationToken)
    {
        CallbackTarget target;
        try
        {
            target = await Guard.CheckAsync(callbackUrl, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException exception)
        {
            return (null, $"its host could not be resolved: {exception.SocketErrorCode}");
        }

        if (!target.Allowed)
        {
            logger.LogWarning("The callback of job {JobId} is refused and not sent: {Refusal}.", jobId, target.Refusal);
            return (CallbackOutcome.Refused, target.Refusal!);
        }

        using HttpRequestMessage request = CreateRequest(callbackUrl, body, delivery);
        request.Options.Set(CheckedAddresses, target.Addresses);
        using var timeout = new CancellationTokenSource(options.Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            using HttpResponseMessage response = await httpClient
                .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
            int code = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                logger.LogInformation("The callback of job {JobId} to {Host} was delivered on attempt {Attempt} ({StatusCode}).",
                    jobId, callbackUrl.IdnHost, attempt, code);
                return (CallbackOutcome.Delivered, "");
            }

            string answered = code is >= 300 and < 400 ? $"it answered {code} (redirects are not followed)" : $"it answered {code}";
            bool mayPass = code is 408 or 429 or >= 500;
            return (mayPass ? null : CallbackOutcome.Failed, answered);
        }
        catch (HttpRequestException exception)
        {
            return (null, exception.Message);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"no answer within {options.Timeout}");
        }
    }

    private HttpRequestMessage CreateRequest(Uri callbackUrl, byte[] body, string delivery)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        var request = new HttpRequestMessage(HttpMethod.Post, callbackUrl) { Content = content };
        request.Headers.Add(CallbackSignature.DeliveryHeader, delivery);
        if (!string.IsNullOrEmpty(options.SigningSecret))
        {
            long timestamp = time.GetUtcNow().ToUnixTimeSeconds();
            request.Headers.Add(CallbackSignature.TimestampHeader, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
            request.Headers.Add(CallbackSignature.SignatureHeader, CallbackSignature.Compute(options.SigningSecret, timestamp, body));
        }

        return request;
    }

    private void WarnOnceIfUnsigned()
    {
        if (string.IsNullOrEmpty(options.SigningSecret) && Interlocked.Exchange(ref warnedUnsigned, 1) == 0)
        {
            logger.LogWarning("Callbacks are sent unsigned: set {Setting} so that receivers can verify them.",
                CallbackOptions.SectionName.Replace(":", "__", StringComparison.Ordinal) + "__" + nameof(CallbackOptions.SigningSecret));
        }
    }

    private static SocketsHttpHandler CreateHandler() => new()
    {
        AllowAutoRedirect = false,
        UseProxy = false,
        UseCookies = false,
        AutomaticDecompression = DecompressionMethods.None,
        PooledConnectionLifetime = TimeSpan.FromMinutes(1),
        MaxResponseHeadersLength = 16,
        ConnectCallback = ConnectToCheckedAddressAsync,
    };

    // Connects to the addresses the guard checked for this request, never to what the host name resolves to now.
    private static async ValueTask<Stream> ConnectToCheckedAddressAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        if (!context.InitialRequestMessage.Options.TryGetValue(CheckedAddresses, out IReadOnlyList<IPAddress>? addresses) || addresses.Count == 0)
        {
            throw new HttpRequestException("The callback's addresses were not checked, so nothing is connected to.");
        }

        SocketException? last = null;
        foreach (IPAddress address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException exception)
            {
                socket.Dispose();
                last = exception;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw new HttpRequestException($"No checked address of {context.DnsEndPoint.Host} accepted the connection ({last?.SocketErrorCode}).", last);
    }
}
