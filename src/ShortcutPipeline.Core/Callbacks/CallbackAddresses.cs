using System.Net.Sockets;

namespace ShortcutPipeline.Core.Callbacks;

/// <summary>
/// Which IP addresses a callback may reach: only globally reachable unicast ones. IPv4-mapped, NAT64 and 6to4 IPv6
/// addresses are judged by the IPv4 address they carry.
/// </summary>
public static class CallbackAddresses
{
    private static readonly (IPNetwork Network, string Kind)[] RefusedV4 =
    [
        (IPNetwork.Parse("0.0.0.0/8"), "an unspecified (\"this network\") address"),
        (IPNetwork.Parse("10.0.0.0/8"), "a private address"),
        (IPNetwork.Parse("100.64.0.0/10"), "a private (shared, carrier-grade NAT) address"),
        (IPNetwork.Parse("127.0.0.0/8"), "a loopback address"),
        (IPNetwork.Parse("169.254.0.0/16"), "a link-local address"),
        (IPNetwork.Parse("172.16.0.0/12"), "a private address"),
        (IPNetwork.Parse("192.0.0.0/24"), "a reserved address"),
        (IPNetwork.Parse("192.0.2.0/24"), "a reserved (documentation) address"),
        (IPNetwork.Parse("192.168.0.0/16"), "a private address"),
        (IPNetwork.Parse("198.18.0.0/15"), "a reserved (benchmarking) address"),
        (IPNetwork.Parse("198.51.100.0/24"), "a reserved (documentation) address"),
        (IPNetwork.Parse("203.0.113.0/24"), "a reserved (documentation) address"),
        (IPNetwork.Parse("224.0.0.0/4"), "a multicast address"),
        (IPNetwork.Parse("240.0.0.0/4"), "a reserved (or broadcast) address"),
    ];

    private static readonly (IPNetwork Network, string Kind)[] RefusedV6 =
    [
        (IPNetwork.Parse("::/128"), "an unspecified address"),
        (IPNetwork.Parse("::1/128"), "a loopback address"),
        (IPNetwork.Parse("::/8"), "a reserved address"),
        (IPNetwork.Parse("64:ff9b:1::/48"), "a private (local NAT64) address"),
        (IPNetwork.Parse("100::/64"), "a reserved (discard) address"),
        (IPNetwork.Parse("2001::/23"), "a reserved (IETF protocol) address"),
        (IPNetwork.Parse("2001:db8::/32"), "a reserved (documentation) address"),
        (IPNetwork.Parse("fc00::/7"), "a unique-local address"),
        (IPNetwork.Parse("fe80::/10"), "a link-local address"),
        (IPNetwork.Parse("fec0::/10"), "a site-local address"),
        (IPNetwork.Parse("ff00::/8"), "a multicast address"),
    ];

    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");
    private static readonly IPNetwork SixToFour = IPNetwork.Parse("2002::/16");

    /// <summary>True for a loopback address (127.0.0.0/8, ::1, or an IPv6 form of 127.0.0.0/8).</summary>
    public static bool IsLoopback(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return IPAddress.IsLoopback(CarriedIPv4(address) ?? address);
    }

    /// <summary>
    /// Why a callback may not reach <paramref name="address"/> ("a private address", ...), or null when it may.
    /// Loopback addresses are allowed only when <paramref name="allowLoopback"/>.
    /// </summary>
    public static string? Refusal(IPAddress address, bool allowLoopback)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (allowLoopback && IsLoopback(address))
        {
            return null;
        }

        IPAddress? carried = CarriedIPv4(address);
        if (carried is not null)
        {
            return Refusal(carried, allowLoopback);
        }

        (IPNetwork Network, string Kind)[] ranges = address.AddressFamily == AddressFamily.InterNetworkV6 ? RefusedV6 : RefusedV4;
        foreach ((IPNetwork network, string kind) in ranges)
        {
            if (network.Contains(address))
            {
                return kind;
            }
        }

        return null;
    }

    // The IPv4 address an IPv6 address stands for: IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) or 6to4 (2002:AABB:CCDD::).
    private static IPAddress? CarriedIPv4(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return null;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        byte[] bytes = address.GetAddressBytes();
        if (Nat64.Contains(address))
        {
            return new IPAddress(bytes.AsSpan(12, 4));
        }

        return SixToFour.Contains(address) ? new IPAddress(bytes.AsSpan(2, 4)) : null;
    }
}
