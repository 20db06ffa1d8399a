namespace ShortcutPipeline.Cli.Tests;

/// <summary>
/// `shortcut worker` and `shortcut trainer`, the GPU image's two apps. The worker and trainer test projects run them as
/// processes over Azurite (fault, outage, health and training tests); here, what the command line itself decides.
/// </summary>
public sealed class HostCommandsTests
{
    [Fact]
    public async Task TheTrainerTakesOnceOrLoopNotBoth()
    {
        var run = await CliRunner.RunAsync("trainer", "--once", "--loop");

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("Give --once or --loop, not both.", run.Errors, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("worker")]
    [InlineData("trainer")]
    public void SettingsGivenAsArgumentsReachTheHostAsTheyWereWritten(string app)
    {
        string[] settings = ["--ShortcutPipeline:Worker:MaxRowsPerPass=8", "--ShortcutPipeline__Trainer__Device=cuda", "--ShortcutStorage", "UseDevelopmentStorage=true"];

        string[] args = app == "worker" ? [app, .. settings] : [app, "--once", .. settings];
        System.CommandLine.ParseResult parse = ShortcutCli.CreateRootCommand().Parse(args);

        Assert.Empty(parse.Errors);
        Assert.Equal(settings, parse.UnmatchedTokens);
    }

    [Theory]
    [InlineData("worker")]
    [InlineData("trainer")]
    public async Task EachAppIsACommandThatSaysWhatItRuns(string app)
    {
        var run = await CliRunner.RunAsync(app, "--help");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("GPU image", run.Output, StringComparison.Ordinal);
    }
}
