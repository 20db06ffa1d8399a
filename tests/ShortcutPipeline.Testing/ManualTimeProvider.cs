namespace ShortcutPipeline.Testing;

/// <summary>A clock that stands still until a test moves it (for deadlines and SAS expiry).</summary>
public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private long ticks = start.UtcTicks;

    /// <summary>A clock standing at the current time.</summary>
    public ManualTimeProvider()
        : this(DateTimeOffset.UtcNow)
    {
    }

    /// <inheritdoc/>
    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref ticks), TimeSpan.Zero);

    /// <summary>Moves the clock forward by <paramref name="delta"/>.</summary>
    public void Advance(TimeSpan delta) => Interlocked.Add(ref ticks, delta.Ticks);
}
