using System.Diagnostics;
using System.Text;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Worker.Tests;

/// <summary>
/// The worker host run as its own process (<c>dotnet ShortcutPipeline.Worker.dll</c> from its build output), configured
/// through environment variables as a container would be, so tests can kill it (SIGKILL) or stop it (SIGTERM).
/// </summary>
internal sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly StringBuilder output = new();
    private readonly List<(string Text, TaskCompletionSource Seen)> awaited = [];

    private WorkerProcess(Process process) => this.process = process;

    /// <summary>The worker's assembly in its own build output (same configuration and framework as the tests).</summary>
    public static string AssemblyPath
    {
        get
        {
            var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            string path = Path.Combine(RepositoryPaths.Root, "src", "ShortcutPipeline.Worker", "bin", framework.Parent!.Name, framework.Name,
                "ShortcutPipeline.Worker.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"The worker is not built at {path}.", path);
        }
    }

    public int Id => process.Id;

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

    /// <summary>Starts a worker on <paramref name="storage"/> with the given <c>ShortcutPipeline:Worker</c> settings.</summary>
    public static WorkerProcess Start(string connectionString, PipelineStorageOptions storage, IReadOnlyDictionary<string, string> workerSettings)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(AssemblyPath)!,
        };
        start.ArgumentList.Add(AssemblyPath);
        start.Environment[SettingNames.StorageConnection] = connectionString;
        foreach (var (name, value) in storage.ToSettings())
        {
            start.Environment[name.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        string workerSection = WorkerOptions.SectionName.Replace(":", "__", StringComparison.Ordinal);
        foreach (var (name, value) in workerSettings)
        {
            start.Environment[$"{workerSection}__{name}"] = value;
        }

        var worker = new WorkerProcess(new Process { StartInfo = start });
        worker.process.OutputDataReceived += (_, e) => worker.Append(e.Data);
        worker.process.ErrorDataReceived += (_, e) => worker.Append(e.Data);
        worker.process.Start();
        worker.process.BeginOutputReadLine();
        worker.process.BeginErrorReadLine();
        return worker;
    }

    /// <summary>Waits until the worker has printed a line containing <paramref name="text"/>.</summary>
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
        Task first = await Task.WhenAny(seen.Task, exited, Task.Delay(timeout));
        if (first != seen.Task)
        {
            throw new TimeoutException($"The worker {(first == exited ? "exited" : "did not print")} \"{text}\" within {timeout}. Its output:\n{Output}");
        }
    }

    /// <summary>SIGKILL: the process dies at once, in the middle of whatever it does.</summary>
    public void Kill()
    {
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
    }

    /// <summary>SIGTERM, as a container runtime sends on scale-in or redeploy.</summary>
    public async Task TerminateAsync()
    {
        using Process kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The worker did not exit within {timeout}. Its output:\n{Output}");
        }

        return process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            await TerminateAsync();
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
            }
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
