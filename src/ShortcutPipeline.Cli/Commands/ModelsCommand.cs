using System.CommandLine;
using System.Globalization;
using Azure;
using ShortcutPipeline.Cli.LocalRun;
using ShortcutPipeline.Cli.Pipeline;
using ShortcutPipeline.Core.Models;
using ShortcutPipeline.Core.Storage;

namespace ShortcutPipeline.Cli.Commands;

/// <summary>
/// `shortcut models register NAME` and `shortcut models list NAME`: model versions in the pipeline's registry (the
/// checkpoints container), against Azurite or Azure (a connection string, or the identity-based settings with
/// DefaultAzureCredential: see <see cref="PipelineConnection"/>).
/// </summary>
public static class ModelsCommand
{
    public static Command Create() => new("models", "Register and list the model versions that jobs draw from.") { Register(), List() };

    private static Command Register()
    {
        var name = new Argument<string>("name") { Description = "The model name that jobs ask for, e.g. fashion." };
        var file = new Option<string?>("--file")
        {
            Description = "A sampling export (`shortcut export`, or a run's step-N.sampling.safetensors) or a training checkpoint; default: the embedded Fashion-MNIST model.",
        };
        var version = new Option<string?>("--version")
        {
            Description = "The version name; default: from the file's content (sha256-<12 hex digits>), so registering the same file again changes nothing.",
        };
        var noPromote = new Option<bool>("--no-promote") { Description = "Register the version (jobs can pin it) without making it the latest." };
        var connection = new PipelineConnection();
        var command = new Command("register", "Upload a checkpoint as a version of a model and make it the latest.") { name, file, version, noPromote };
        connection.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            string model = parse.GetValue(name)!;
            Func<Stream> open = Open(parse.GetValue(file));
            PipelineStorage storage = connection.Open(parse);
            await EnsureContainerAsync(storage, cancellationToken);
            Registration registration = await ModelRegistration.RegisterAsync(
                new ModelRegistry(storage), model, open, parse.GetValue(version), parse.GetValue(noPromote) ? Promotion.Never : Promotion.Always,
                cancellationToken);
            ModelManifest manifest = registration.Manifest;
            await parse.InvocationConfiguration.Output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"Model {manifest.Model} version {manifest.Version}: {(registration.Uploaded ? "registered" : "registered before")} ({registration.Info.Config.Name}, {registration.Info.Config.InputSize}x{registration.Info.Config.InputSize}, {registration.Info.Config.NumClasses} classes; checkpoint {storage.Options.CheckpointsContainer}/{manifest.Checkpoint}); {(registration.IsLatest ? "it is the latest: jobs without a pinned version draw from it" : "not the latest: jobs can pin it with \"version\"")}."));
            return 0;
        });
        return command;
    }

    private static Command List()
    {
        var name = new Argument<string>("name") { Description = "The model name." };
        var connection = new PipelineConnection();
        var command = new Command("list", "List the registered versions of a model, oldest first, and which is the latest.") { name };
        connection.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            string model = parse.GetValue(name)!;
            var registry = new ModelRegistry(connection.Open(parse));
            IReadOnlyList<ModelManifest> versions = await registry.ListVersionsAsync(model, cancellationToken);
            if (versions.Count == 0)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"Model {model} has no registered versions (register one with `shortcut models register {model}`).");
                return 1;
            }

            string? latest = (await registry.GetLatestAsync(model, cancellationToken))?.Manifest.Version;
            foreach (ModelManifest manifest in versions)
            {
                await parse.InvocationConfiguration.Output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{(manifest.Version == latest ? "*" : " ")} {manifest.Version}  {manifest.CreatedAt:yyyy-MM-ddTHH:mm:ssZ}  {manifest.NumClasses?.ToString(CultureInfo.InvariantCulture) ?? "?"} classes  {manifest.Checkpoint}"));
            }

            return 0;
        });
        return command;
    }

    // The file, or the embedded default model; a missing file is bad input.
    private static Func<Stream> Open(string? file)
    {
        if (file is not null)
        {
            return File.Exists(file)
                ? () => File.OpenRead(file)
                : throw new FileNotFoundException($"The checkpoint {file} does not exist.", file);
        }

        byte[] embedded = DefaultModel.ReadEmbedded()
            ?? throw new ArgumentException("This build has no embedded model: name a checkpoint with --file.");
        return () => new MemoryStream(embedded, writable: false);
    }

    // A storage account the stacks deployed has the container; a fresh Azurite may not.
    private static async Task EnsureContainerAsync(PipelineStorage storage, CancellationToken cancellationToken)
    {
        try
        {
            await storage.CheckpointsContainer.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        }
        catch (RequestFailedException exception) when (exception.Status == 403)
        {
            // Allowed to write blobs but not to create containers: the deployment made it.
        }
    }
}
