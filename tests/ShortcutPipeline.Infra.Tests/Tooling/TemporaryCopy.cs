using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Infra.Tests.Tooling;

/// <summary>A throw-away copy of a directory tree (for deliberately broken copies and generated files).</summary>
public sealed class TemporaryCopy : IDisposable
{
    private readonly TempDirectory directory = new("shortcut-infra-");

    private TemporaryCopy()
    {
    }

    public string Path => directory.Path;

    public static TemporaryCopy Of(string sourceDirectory)
    {
        var copy = new TemporaryCopy();
        foreach (string file in Directory.EnumerateFiles(sourceDirectory, "*", SearchOption.AllDirectories))
        {
            string target = System.IO.Path.Combine(copy.Path, System.IO.Path.GetRelativePath(sourceDirectory, file));
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        return copy;
    }

    /// <summary>Replaces exactly one occurrence of <paramref name="oldText"/> in a file of the copy.</summary>
    public void ReplaceOnce(string relativeFile, string oldText, string newText)
    {
        string file = System.IO.Path.Combine(Path, relativeFile);
        string text = File.ReadAllText(file);
        int first = text.IndexOf(oldText, StringComparison.Ordinal);
        if (first < 0 || text.IndexOf(oldText, first + 1, StringComparison.Ordinal) >= 0)
        {
            throw new InvalidOperationException($"'{oldText}' does not occur exactly once in {relativeFile}.");
        }
        File.WriteAllText(file, text[..first] + newText + text[(first + oldText.Length)..]);
    }

    public void Dispose() => directory.Dispose();
}
