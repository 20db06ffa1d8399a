using ShortcutPipeline.Cli;

return await ShortcutCli.InvokeAsync(args);
