using System.Security.Cryptography;

namespace ShortcutPipeline.Core.Callbacks;

/// <summary>
/// The signature of a callback, so that its receiver can tell it came from this pipeline and was not replayed:
/// <see cref="TimestampHeader"/> holds the Unix time of the attempt in seconds, and <see cref="SignatureHeader"/>
/// <c>v1=</c> and the lowercase hex HMAC-SHA256, keyed with the UTF-8 bytes of the secret, of the UTF-8 bytes of
/// <c>{timestamp}.</c> followed by the body's bytes exactly as received. <see cref="DeliveryHeader"/> is the same
/// for every attempt of one callback, so that a receiver can drop repeats.
/// </summary>
public static class CallbackSignature
{
    /// <summary>The header with the Unix time (seconds) the signature was made at.</summary>
    public const string TimestampHeader = "X-Shortcut-Timestamp";

    /// <summary>The header with the signature, <c>v1={hex}</c>.</summary>
    public const string SignatureHeader = "X-Shortcut-Signature";

    /// <summary>The header with the callback's id (one per callback, the same for its retries).</summary>
    public const string DeliveryHeader = "X-Shortcut-Delivery";

    /// <summary>The prefix of the signature header's value, naming the scheme.</summary>
    public const string Version = "v1=";

    /// <summary>How far from now a timestamp may be for <see cref="Verify"/> by default (5 minutes).</summary>
    public static readonly TimeSpan DefaultTolerance = TimeSpan.FromMinutes(5);

    /// <summary>The value of <see cref="SignatureHeader"/> for <paramref name="body"/> sent at <paramref name="timestamp"/> (Unix seconds).</summary>
    public static string Compute(string secret, long timestamp, ReadOnlySpan<byte> body)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        byte[] prefix = Encoding.UTF8.GetBytes(timestamp.ToString(CultureInfo.InvariantCulture) + ".");
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret));
        hmac.AppendData(prefix);
        hmac.AppendData(body);
        return Version + Convert.ToHexStringLower(hmac.GetHashAndReset());
    }

    /// <summary>
    /// What a receiver does: true when <paramref name="signature"/> is the signature of <paramref name="body"/> at
    /// <paramref name="timestamp"/> (the two headers' values) and that time is within <paramref name="tolerance"/>
    /// (default <see cref="DefaultTolerance"/>) of <paramref name="now"/>. Compares in constant time.
    /// </summary>
    public static bool Verify(
        string secret, string? timestamp, string? signature, ReadOnlySpan<byte> body, DateTimeOffset now, TimeSpan? tolerance = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        if (signature is null || !long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds))
        {
            return false;
        }

        TimeSpan age = now - DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(seconds, 0, 253402300799));
        if (age.Duration() > (tolerance ?? DefaultTolerance))
        {
            return false;
        }

        byte[] expected = Encoding.ASCII.GetBytes(Compute(secret, seconds, body));
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(signature));
    }
}
