namespace ShortcutPipeline.Core.Contracts;

/// <summary>The JSON Schema of a generation job (<c>Contracts/generation-job.schema.json</c>, embedded in this assembly).</summary>
public static class GenerationJobSchema
{
    private const string ResourceName = "ShortcutPipeline.Core.Contracts.generation-job.schema.json";

    /// <summary>The schema text.</summary>
    public static string Text { get; } = ReadText();

    private static string ReadText()
    {
        using Stream stream = typeof(GenerationJobSchema).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource {ResourceName} is missing from the build.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
