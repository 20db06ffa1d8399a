using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace ShortcutPipeline.Testing;

/// <summary>
/// A built app run as its own process (<c>dotnet {app}.dll</c> from its build output), configured through environment
/// variables as a container would be, with everything it writes captured, so tests can wait for its output, kill it
/// (SIGKILL) or stop it (SIGTERM).
/// </summary>
public sealed class AppProcess : IDisposable
{
    private readonly Process process;
    private readonly string name;
    private readonly StringBuilder output = new();
    private readonly List<(string Text, TaskCompletionSource Seen)> awaited = [];

    private AppProcess(Process process, string name)
    {
        this.process = process;
        this.name = name;
    }

    /// <summary>Everything the process wrote so far (standard output and error, a line at a time).</summary>
    public string Output
    {
        get
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    /// <summary>Whether the process has ended.</summary>
    public bool HasExited => process.HasExited;

    /// <summary>The exit code of the ended process.</summary>
    public int ExitCode => process.ExitCode;

    /// <summary>
    /// Starts <c>dotnet {assembly} {arguments}</c> in the assembly's folder, with each of <paramref name="settings"/>
    /// (configuration keys, <c>:</c> written as <c>__</c>) in its environment.
    /// </summary>
    /// <exception cref="FileNotFoundException">The assembly is not built.</exception>
    public static AppProcess Start(string assemblyPath, IReadOnlyDictionary<string, string?> settings, params IEnumerable<string> arguments)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(arguments);
        if (!File.Exists(assemblyPath))
        {
            throw new FileNotFoundException($"{assemblyPath} is missing: build its project first.", assemblyPath);
        }

        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(assemblyPath)!,
        };
        start.ArgumentList.Add(assemblyPath);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach ((string key, string? value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var app = new AppProcess(new Process { StartInfo = start }, Path.GetFileNameWithoutExtension(assemblyPath));
        app.process.OutputDataReceived += (_, e) => app.Append(e.Data);
        app.process.ErrorDataReceived += (_, e) => app.Append(e.Data);
        app.process.Start();
        app.process.BeginOutputReadLine();
        app.process.BeginErrorReadLine();
        return app;
    }

    /// <summary>Waits until the process has printed a line containing <paramref name="text"/>.</summary>
    /// <exception cref="TimeoutException">It exited, or did not print it within <paramref name="timeout"/>.</exception>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (output)
        {
            if (output.ToString().Contains(text, StringComparison.Ordinal))
            {
                return;
            }

            awaited.Add((text, seen));
        }

        Task exited = process.WaitForExitAsync();
        Task first = await Task.WhenAny(seen.Task, exited, Task.Delay(timeout)).ConfigureAwait(false);
        if (first != seen.Task)
        {
            throw new TimeoutException($"{name} {(first == exited ? "exited" : "did not print")} \"{text}\" within {timeout}. Its output:\n{Output}");
        }
    }

    /// <summary>SIGKILL: the process dies at once, in the middle of whatever it does (a crash, an evicted replica).</summary>
    public void Kill()
    {
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
    }

    /// <summary>SIGTERM, as a container runtime sends on scale-in or redeploy.</summary>
    public async Task TerminateAsync()
    {
        using Process kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Stops the process as a container runtime does: SIGTERM, then at most <paramref name="grace"/> to exit by itself,
    /// then SIGKILL.
    /// </summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (process.HasExited)
        {
            return;
        }

        await TerminateAsync().ConfigureAwait(false);
        using var cancel = new CancellationTokenSource(grace);
        try
        {
            await process.WaitForExitAsync(cancel.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill();
        }
    }

    /// <summary>Waits for the process to exit by itself, at most <paramref name="timeout"/>, and returns its exit code.</summary>
    /// <exception cref="TimeoutException">It did not exit in time.</exception>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{name} did not exit within {timeout}. Its output:\n{Output}");
        }

        process.WaitForExit(); // flushes the output events
        return process.ExitCode;
    }

    /// <summary>Kills the process if it is still running.</summary>
    public void Dispose()
    {
        if (!process.HasExited)
        {
            Kill();
        }

        process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
            foreach (var wait in awaited.Where(w => line.Contains(w.Text, StringComparison.Ordinal)).ToList())
            {
                wait.Seen.TrySetResult();
                awaited.Remove(wait);
            }
        }
    }
}
