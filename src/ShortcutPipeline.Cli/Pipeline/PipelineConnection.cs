using System.CommandLine;
using Microsoft.Extensions.Configuration;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Storage;

namespace ShortcutPipeline.Cli.Pipeline;

/// <summary>
/// The storage options of the pipeline commands: <c>--connection</c> (default: the ShortcutStorage environment
/// variable, or the identity-based ShortcutStorage__*ServiceUri ones) and <c>--storage-prefix</c> (names of a
/// side-by-side deployment; otherwise ShortcutPipeline__Storage__* variables or the defaults of StorageNames).
/// </summary>
public sealed class PipelineConnection
{
    /// <summary>--connection.</summary>
    public Option<string?> Connection { get; } = new("--connection")
    {
        Description = $"Storage connection string (default: the {SettingNames.StorageConnection} environment variable; in Azure the identity-based {SettingNames.StorageBlobServiceUri} etc. work too).",
    };

    /// <summary>--storage-prefix.</summary>
    public Option<string?> Prefix { get; } = new("--storage-prefix")
    {
        Description = "Use the queues, containers and tables named with this prefix (a side-by-side deployment or a test).",
    };

    /// <summary>Adds both options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        command.Options.Add(Connection);
        command.Options.Add(Prefix);
    }

    /// <summary>The storage the options name.</summary>
    /// <exception cref="InvalidOperationException">No connection is given or configured (the message says how to give one).</exception>
    public PipelineStorage Open(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        IConfiguration environment = new ConfigurationBuilder().AddEnvironmentVariables().Build();
        var names = new PipelineStorageOptions();
        environment.GetSection(PipelineStorageOptions.SectionName).Bind(names);
        if (parse.GetValue(Prefix) is { } prefix)
        {
            names = PipelineStorageOptions.WithPrefix(prefix);
        }

        PipelineStorageClients clients = parse.GetValue(Connection) is { } connection
            ? PipelineStorageClients.FromConnectionString(connection)
            : PipelineStorageClients.FromConfiguration(environment);
        return new PipelineStorage(clients, names);
    }
}
