using System.Text;

namespace ShortcutPipeline.Testing;

/// <summary>
/// Captures what the process writes to standard output until disposed (then restores it). Standard output is
/// process-wide: use it only in tests of <see cref="TelemetryCollection"/>, which run alone.
/// </summary>
public sealed class ConsoleCapture : IDisposable
{
    private readonly TextWriter original = Console.Out;
    private readonly StringBuilder text = new();
    private readonly TextWriter writer;

    /// <summary>Starts capturing.</summary>
    public ConsoleCapture()
    {
        writer = TextWriter.Synchronized(new StringWriter(text));
        Console.SetOut(writer);
    }

    /// <summary>What was written so far.</summary>
    public string Text
    {
        get
        {
            // The synchronized writer locks on itself around every write.
            lock (writer)
            {
                return text.ToString();
            }
        }
    }

    /// <summary>Restores standard output.</summary>
    public void Dispose() => Console.SetOut(original);
}
