using ShortcutPipeline.Cli;

return await ShortcutCli.CreateRootCommand().Parse(args).InvokeAsync();
