using System.CommandLine;

var root = new RootCommand("shortcut: train, sample and serve shortcut models (Frans et al. 2024).");
return await root.Parse(args).InvokeAsync();
