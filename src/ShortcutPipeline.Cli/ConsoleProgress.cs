using System.Diagnostics;
using System.Globalization;
using ShortcutPipeline.Cli.Commands;
using ShortcutPipeline.Model;

namespace ShortcutPipeline.Cli;

/// <summary>
/// A one-line progress bar on standard error: redrawn in place on a terminal; otherwise (CI logs, pipes) printed
/// at every 10% and at least every 30 seconds. <paramref name="start"/> is the count already done when the bar is
/// made (a resumed training run): the estimate of the time left counts only what this process has done.
/// </summary>
public sealed class ConsoleProgress(string label, long total, long start = 0) : IDisposable
{
    private const int BarWidth = 30;
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private readonly bool interactive = !Console.IsErrorRedirected;
    private TimeSpan? lastDraw;
    private long lastTenth = -1;
    private string lastLine = "";

    public void Report(long done, string detail = "")
    {
        long tenth = total == 0 ? 10 : done * 10 / total;
        bool finished = done >= total;
        if (interactive)
        {
            if (!finished && clock.Elapsed - lastDraw < TimeSpan.FromMilliseconds(200)) return;   // null compares false
            lastDraw = clock.Elapsed;
        }
        else
        {
            if (tenth == lastTenth && !finished && clock.Elapsed - lastDraw < TimeSpan.FromSeconds(30)) return;
            lastTenth = tenth;
            lastDraw = clock.Elapsed;
        }
        int filled = total == 0 ? BarWidth : (int)(BarWidth * Math.Min(done, total) / total);
        var eta = done > start && !finished ? TimeSpan.FromSeconds(clock.Elapsed.TotalSeconds * (total - done) / (done - start)) : TimeSpan.Zero;
        var line = $"{label} [{new string('#', filled)}{new string('.', BarWidth - filled)}] {done}/{total} {detail}" +
                   (finished ? $" done in {Format(clock.Elapsed)}" : $" eta {Format(eta)}");
        if (interactive) Console.Error.Write("\r" + line.PadRight(lastLine.Length));
        else Console.Error.WriteLine(line);
        lastLine = line;
    }

    /// <summary>Reports a training loop's progress on this bar: its step, with the loss and images per second.</summary>
    public IProgress<TrainingProgress> TrainingReporter() => new SynchronousProgress<TrainingProgress>(p =>
        Report(p.Step, string.Create(CultureInfo.InvariantCulture, $"loss {p.Loss:F4} {p.ImagesPerSecond:F0} img/s")));

    private static string Format(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:D2}m" : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes}m{t.Seconds:D2}s" : $"{t.TotalSeconds:F0}s";

    public void Dispose()
    {
        if (interactive && lastLine.Length > 0) Console.Error.WriteLine();
    }
}
