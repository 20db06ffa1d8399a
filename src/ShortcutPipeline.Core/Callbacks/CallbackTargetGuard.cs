using System.Net.Sockets;

namespace ShortcutPipeline.Core.Callbacks;

/// <summary>What <see cref="CallbackTargetGuard.CheckAsync"/> found for a callback URL.</summary>
/// <param name="Url">The URL.</param>
/// <param name="Addresses">The addresses its host resolved to (all of them allowed, when <paramref name="Refusal"/> is null).</param>
/// <param name="Refusal">Why the URL is refused ("its host ... is a loopback address", ...), or null when it is allowed.</param>
public sealed record CallbackTarget(Uri Url, IReadOnlyList<IPAddress> Addresses, string? Refusal)
{
    /// <summary>True when a callback may be sent to <see cref="Addresses"/>.</summary>
    public bool Allowed => Refusal is null;
}

/// <summary>
/// Decides whether a callback URL may be called: https only (http with <see cref="CallbackOptions.AllowHttp"/>), no
/// user name or password, and a host whose every address (the host resolved now, or the address it spells, in any
/// form) is a public one by <see cref="CallbackAddresses"/> and none of the storage account's own endpoints. Intake
/// rejects a job whose URL is refused; the sender checks again before each attempt and connects only to the
/// addresses it checked, so a name that resolves elsewhere later is caught too.
/// </summary>
public sealed class CallbackTargetGuard
{
    private static readonly TimeSpan StorageAddressesLifetime = TimeSpan.FromMinutes(5);

    private readonly CallbackOptions options;
    private readonly IReadOnlyList<Uri> storageEndpoints;
    private readonly TimeProvider time;
    private readonly SemaphoreSlim storageLock = new(1, 1);
    private IReadOnlyList<IPEndPoint> storageAddresses = [];
    private DateTimeOffset storageAddressesUntil = DateTimeOffset.MinValue;

    /// <summary>A guard with <paramref name="options"/> that also refuses <paramref name="storageEndpoints"/> (the storage account's service URIs).</summary>
    public CallbackTargetGuard(CallbackOptions options, IEnumerable<Uri> storageEndpoints, TimeProvider? time = null)
    {
        this.options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        ArgumentNullException.ThrowIfNull(storageEndpoints);
        this.storageEndpoints = storageEndpoints.ToList();
        this.time = time ?? TimeProvider.System;
    }

    /// <summary>
    /// Checks <paramref name="url"/>, resolving its host. A host that does not exist is a refusal.
    /// </summary>
    /// <exception cref="SocketException">The host could not be resolved for another reason (a resolver failure that may pass).</exception>
    public async Task<CallbackTarget> CheckAsync(Uri url, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(url);
        string? refusal = CheckForm(url);
        if (refusal is not null)
        {
            return new CallbackTarget(url, [], refusal);
        }

        string host = url.IdnHost;
        IPAddress[] addresses;
        try
        {
            addresses = await ResolveAsync(url, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException exception) when (exception.SocketErrorCode is SocketError.HostNotFound or SocketError.NoData)
        {
            return new CallbackTarget(url, [], $"its host {host} does not resolve");
        }

        if (addresses.Length == 0)
        {
            return new CallbackTarget(url, [], $"its host {host} does not resolve");
        }

        IReadOnlyList<IPEndPoint> storage = await GetStorageAddressesAsync(cancellationToken).ConfigureAwait(false);
        bool literal = url.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6;
        foreach (IPAddress address in addresses)
        {
            string named = literal ? $"its host {host} is {address}, which" : $"its host {host} resolves to {address}, which";
            if (CallbackAddresses.Refusal(address, options.AllowLoopback) is string kind)
            {
                return new CallbackTarget(url, addresses, $"{named} is {kind}");
            }

            if (IsStorage(address, url.Port, storage))
            {
                return new CallbackTarget(url, addresses, $"{named} is an endpoint of the pipeline's storage account");
            }
        }

        return new CallbackTarget(url, addresses, null);
    }

    // What the URL's form alone decides.
    private string? CheckForm(Uri url)
    {
        if (!url.IsAbsoluteUri || url.Scheme is not ("https" or "http"))
        {
            return "it is not an absolute http or https URL";
        }

        if (url.Scheme == Uri.UriSchemeHttp && !options.AllowHttp)
        {
            return $"only https callbacks are allowed (http needs {CallbackOptions.SectionName}:{nameof(CallbackOptions.AllowHttp)})";
        }

        if (url.UserInfo.Length > 0)
        {
            return "it holds a user name or password";
        }

        // The same host and port as an endpoint; the same addresses on another port are caught once resolved.
        return storageEndpoints.Any(endpoint =>
            string.Equals(endpoint.IdnHost, url.IdnHost, StringComparison.OrdinalIgnoreCase) && endpoint.Port == url.Port)
            ? $"its host {url.IdnHost} is an endpoint of the pipeline's storage account"
            : null;
    }

    // A loopback address is one of the storage endpoints only on the same port (Azurite shares loopback with every
    // local service); any other address is, on any port.
    private static bool IsStorage(IPAddress address, int port, IReadOnlyList<IPEndPoint> storage)
    {
        IPAddress plain = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        return storage.Any(endpoint => endpoint.Address.Equals(plain) && (!CallbackAddresses.IsLoopback(plain) || endpoint.Port == port));
    }

    private async Task<IReadOnlyList<IPEndPoint>> GetStorageAddressesAsync(CancellationToken cancellationToken)
    {
        await storageLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (time.GetUtcNow() < storageAddressesUntil)
            {
                return storageAddresses;
            }

            var endpoints = new List<IPEndPoint>();
            foreach (Uri endpoint in storageEndpoints)
            {
                endpoints.AddRange((await ResolveOrNothingAsync(endpoint, cancellationToken).ConfigureAwait(false))
                    .Select(address => new IPEndPoint(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address, endpoint.Port)));
            }

            storageAddresses = endpoints;
            storageAddressesUntil = time.GetUtcNow() + StorageAddressesLifetime;
            return storageAddresses;
        }
        finally
        {
            storageLock.Release();
        }
    }

    private static async Task<IPAddress[]> ResolveOrNothingAsync(Uri endpoint, CancellationToken cancellationToken)
    {
        try
        {
            return await ResolveAsync(endpoint, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            // The host-name check still refuses it; its addresses are checked again when this cache lapses.
            return [];
        }
    }

    // The address a URL's host spells (in whatever form Uri accepted: decimal, hex, octal, IPv6), or what its name resolves to.
    private static async Task<IPAddress[]> ResolveAsync(Uri url, CancellationToken cancellationToken) =>
        url.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6
            ? [IPAddress.Parse(url.DnsSafeHost)]
            : await Dns.GetHostAddressesAsync(url.IdnHost, cancellationToken).ConfigureAwait(false);
}
