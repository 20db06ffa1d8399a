namespace ShortcutPipeline.Core.Health;

/// <summary>The body of a health response.</summary>
/// <param name="Status"><c>alive</c> (liveness), <c>ready</c> or <c>not-ready</c>.</param>
/// <param name="Checks">What each readiness check found (empty for liveness).</param>
public sealed record HealthReport(string Status, IReadOnlyList<HealthCheckReport> Checks);

/// <summary>What one readiness check found.</summary>
/// <param name="Name">The check (<see cref="IReadinessCheck.Name"/>).</param>
/// <param name="Ready">Whether it passed.</param>
/// <param name="Detail">What it found.</param>
public sealed record HealthCheckReport(string Name, bool Ready, string Detail);
