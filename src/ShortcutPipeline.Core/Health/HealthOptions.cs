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
