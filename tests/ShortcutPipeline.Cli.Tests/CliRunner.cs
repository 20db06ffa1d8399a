namespace ShortcutPipeline.Cli.Tests;

/// <summary>Runs `shortcut` in-process and captures what it writes.</summary>
internal static class CliRunner
{
    public static async Task<(int ExitCode, string Output, string Errors)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var errors = new StringWriter();
        int exitCode = await ShortcutCli.InvokeAsync(args, output, errors);
        return (exitCode, output.ToString(), errors.ToString());
    }
}
