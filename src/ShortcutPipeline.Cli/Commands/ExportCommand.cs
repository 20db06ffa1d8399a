using System.CommandLine;
using ShortcutPipeline.Model;
using static TorchSharp.torch;

namespace ShortcutPipeline.Cli.Commands;

/// <summary>`shortcut export`: the sampling export (EMA weights only) of a training checkpoint, in float32 or bfloat16.</summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "A training checkpoint (step-N.safetensors of a run folder).", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "float32, or bfloat16 (half the size).", DefaultValueFactory = _ => "float32" };
        var output = new Option<string>("--out") { Description = "The sampling export to write.", Required = true };
        var command = new Command("export", "Write the EMA weights of a training checkpoint as the file a worker samples from.") { checkpoint, dtype, output };
        command.SetAction(parse =>
        {
            var type = parse.GetValue(dtype) switch
            {
                "float32" => ScalarType.Float32,
                "bfloat16" or "bf16" => ScalarType.BFloat16,
                var other => throw new ArgumentException($"--dtype {other}: expected float32 or bfloat16."),
            };
            using var trainer = Checkpoint.Resume(parse.GetValue(checkpoint)!);
            var info = Checkpoint.ReadInfo(parse.GetValue(checkpoint)!);
            Checkpoint.ExportForSampling(trainer, parse.GetValue(output)!, type, info.Metrics);
            parse.InvocationConfiguration.Output.WriteLine(
                $"{parse.GetValue(output)}: {trainer.Config.Name} at step {trainer.Step}, EMA weights in {type} ({new FileInfo(parse.GetValue(output)!).Length / 1024} KiB)");
            return 0;
        });
        return command;
    }
}
