namespace ShortcutPipeline.Infra.Tests.Tooling;

/// <summary>One problem that a validator found in an infrastructure file.</summary>
/// <param name="File">The file, relative to the validated directory where known.</param>
/// <param name="Message">What is wrong.</param>
public sealed record InfraDiagnostic(string File, string Message)
{
    public override string ToString() => $"{File}: {Message}";
}
