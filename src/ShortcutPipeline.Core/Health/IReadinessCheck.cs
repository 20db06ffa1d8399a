namespace ShortcutPipeline.Core.Health;

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
