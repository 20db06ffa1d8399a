namespace ShortcutPipeline.Core.Callbacks;

/// <summary>How job callbacks are checked, signed and sent (configuration section <see cref="SectionName"/>).</summary>
public sealed class CallbackOptions
{
    /// <summary>The configuration section these options bind from (<c>ShortcutPipeline__Callbacks__SigningSecret</c>, ...).</summary>
    public const string SectionName = "ShortcutPipeline:Callbacks";

    /// <summary>Allow http callback URLs, not only https (default false: for local use).</summary>
    public bool AllowHttp { get; set; }

    /// <summary>
    /// Allow loopback addresses (127.0.0.0/8, ::1) as callback targets (default false: for the local run and tests).
    /// Private, link-local and the other internal ranges, and the storage account's endpoints, stay refused.
    /// </summary>
    public bool AllowLoopback { get; set; }

    /// <summary>
    /// The secret that signs every callback (HMAC-SHA256, see <see cref="CallbackSignature"/>). Without one, callbacks are
    /// sent unsigned and a warning says so.
    /// </summary>
    public string? SigningSecret { get; set; }

    /// <summary>How long one attempt may take, connecting included (default 5 s).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How many attempts a callback gets when it fails in a way that may pass (default 3).</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>The wait before the second attempt; it doubles before each one after (default 0.5 s).</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Throws when a value is out of range.</summary>
    public void Validate()
    {
        if (Timeout <= TimeSpan.Zero || Timeout > TimeSpan.FromMinutes(5))
        {
            throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, "The callback timeout must be above 0 and at most 5 minutes.");
        }

        if (MaxAttempts is < 1 or > 10)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, "MaxAttempts must be 1 to 10.");
        }

        if (RetryDelay < TimeSpan.Zero || RetryDelay > TimeSpan.FromMinutes(1))
        {
            throw new ArgumentOutOfRangeException(nameof(RetryDelay), RetryDelay, "RetryDelay must be 0 to 1 minute.");
        }
    }
}
