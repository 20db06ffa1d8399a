using System.Diagnostics;
using System.Reflection;
using System.Text;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Trainer.Tests;

/// <summary>
/// The trainer as its own process (<c>dotnet ShortcutPipeline.Trainer.dll</c> from its build output), configured the way
/// the container is, through environment variables: the Azurite connection, the isolated storage names, short timeouts.
/// </summary>
internal sealed class TrainerProcess : IDisposable
{
    private static readonly string TrainerAssembly = Path.Combine(
        RepositoryPaths.Root, "src", "ShortcutPipeline.Trainer", "bin",
        typeof(TrainerProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration, "net10.0",
        "ShortcutPipeline.Trainer.dll");

    private readonly Process process;
    private readonly StringBuilder output = new();

    private TrainerProcess(Process process)
    {
        this.process = process;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Everything the process wrote so far.</summary>
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

    public bool HasExited => process.HasExited;

    public int ExitCode => process.ExitCode;

    /// <summary>Starts <c>dotnet ShortcutPipeline.Trainer.dll {arguments}</c> over <paramref name="storage"/>.</summary>
    public static TrainerProcess Start(string connectionString, PipelineStorageOptions storage, TrainerHostOptions trainer, params string[] arguments)
    {
        Assert.True(File.Exists(TrainerAssembly), $"{TrainerAssembly} is missing: build src/ShortcutPipeline.Trainer first.");
        var startInfo = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        startInfo.ArgumentList.Add(TrainerAssembly);
        foreach (string argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        startInfo.Environment["ShortcutStorage"] = connectionString;
        foreach (var property in typeof(PipelineStorageOptions).GetProperties().Where(p => p.PropertyType == typeof(string) && p.CanWrite))
        {
            startInfo.Environment[$"ShortcutPipeline__Storage__{property.Name}"] = (string)property.GetValue(storage)!;
        }

        foreach (var property in typeof(TrainerHostOptions).GetProperties().Where(p => p.CanWrite))
        {
            startInfo.Environment[$"ShortcutPipeline__Trainer__{property.Name}"] =
                Convert.ToString(property.GetValue(trainer), System.Globalization.CultureInfo.InvariantCulture);
        }

        startInfo.Environment["Logging__Console__FormatterName"] = "simple";
        startInfo.Environment["Logging__Console__FormatterOptions__SingleLine"] = "true";
        return new TrainerProcess(new Process { StartInfo = startInfo });
    }

    /// <summary>Kills the process at once (SIGKILL), as a crash or an evicted replica would end.</summary>
    public void Kill()
    {
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
    }

    /// <summary>Waits for the process to exit by itself, at most <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            Assert.Fail($"The trainer did not exit within {timeout}. Its output:{Environment.NewLine}{Output}");
        }

        process.WaitForExit(); // flushes the output events
        return process.ExitCode;
    }

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
        if (line is not null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }
}
