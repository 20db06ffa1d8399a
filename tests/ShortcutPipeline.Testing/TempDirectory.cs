namespace ShortcutPipeline.Testing;

/// <summary>A fresh folder under the system temp directory, deleted with everything in it on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    /// <summary>Creates the folder, its name starting with <paramref name="prefix"/>.</summary>
    public TempDirectory(string prefix = "shortcut-tests-") => Path = Directory.CreateTempSubdirectory(prefix).FullName;

    /// <summary>The full path of the folder.</summary>
    public string Path { get; }

    /// <summary>The full path of <paramref name="relative"/> inside the folder, creating its parent folders.</summary>
    public string File(string relative)
    {
        string full = System.IO.Path.Combine(Path, relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        return full;
    }

    /// <summary>Deletes the folder and everything in it.</summary>
    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}
