using System.Text.Json;
using ShortcutPipeline.Infra.Tests.Tooling;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Infra.Tests.Terraform;

/// <summary>One block of a Terraform file: a resource, data source, variable, output, module or provider.</summary>
/// <param name="File">The .tf file.</param>
/// <param name="Kind">resource, data, variable, output, module, provider or terraform.</param>
/// <param name="Type">The resource or data source type (azurerm_storage_account); the provider name for providers; empty otherwise.</param>
/// <param name="Name">The block's name (the second label of a resource, the only label of a variable).</param>
/// <param name="Body">The block's arguments and nested blocks, as @cdktf/hcl2json writes them: a nested block is
/// an array of objects, an expression is a string "${...}".</param>
public sealed record TerraformBlock(string File, string Kind, string Type, string Name, JsonElement Body)
{
    /// <summary>resource.type.name or data.type.name as Terraform addresses it in messages.</summary>
    public string Address => Kind switch
    {
        "resource" => $"{Type}.{Name}",
        "data" => $"data.{Type}.{Name}",
        _ => $"{Kind}.{Name}",
    };

    public bool TryGet(string argument, out JsonElement value) => Body.TryGetProperty(argument, out value);

    public string? GetString(string argument) =>
        Body.TryGetProperty(argument, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>A Terraform root module (one directory of .tf files), parsed with @cdktf/hcl2json.</summary>
public sealed class TerraformConfiguration
{
    /// <summary>The file name of the example variable values, the counterpart of infra/bicep/main.bicepparam.</summary>
    public const string ExampleFile = "terraform.tfvars.example";

    private TerraformConfiguration(IReadOnlyList<TerraformBlock> blocks, IReadOnlyDictionary<string, JsonElement> locals, IReadOnlyDictionary<string, string> localFiles, IReadOnlyDictionary<string, JsonElement> exampleValues, IReadOnlyList<InfraDiagnostic> parseErrors)
    {
        Blocks = blocks;
        Locals = locals;
        LocalFiles = localFiles;
        ExampleValues = exampleValues;
        ParseErrors = parseErrors;
    }

    public IReadOnlyList<TerraformBlock> Blocks { get; }

    /// <summary>Every local value, from all locals blocks.</summary>
    public IReadOnlyDictionary<string, JsonElement> Locals { get; }

    /// <summary>The file that declares each local value.</summary>
    public IReadOnlyDictionary<string, string> LocalFiles { get; }

    /// <summary>The variable values of <see cref="ExampleFile"/>.</summary>
    public IReadOnlyDictionary<string, JsonElement> ExampleValues { get; }

    /// <summary>Files that hcl2json could not parse.</summary>
    public IReadOnlyList<InfraDiagnostic> ParseErrors { get; }

    public IEnumerable<TerraformBlock> Resources => Blocks.Where(block => block.Kind == "resource");

    public IEnumerable<TerraformBlock> DataSources => Blocks.Where(block => block.Kind == "data");

    public IEnumerable<TerraformBlock> Variables => Blocks.Where(block => block.Kind == "variable");

    public IEnumerable<TerraformBlock> Modules => Blocks.Where(block => block.Kind == "module");

    public static async Task<TerraformConfiguration> LoadAsync(string directory, CancellationToken cancellationToken)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "hcl2json.js");
        ProcessResult result = await ExternalProcess.RunAsync(
            "node", [script, RepositoryLayout.Hcl2JsonPackage, directory], directory, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"hcl2json failed ({result.ExitCode}): {result.StandardError}");
        }

        using JsonDocument document = JsonDocument.Parse(result.StandardOutput);
        var blocks = new List<TerraformBlock>();
        var locals = new Dictionary<string, JsonElement>();
        var localFiles = new Dictionary<string, string>();
        var exampleValues = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        var parseErrors = new List<InfraDiagnostic>();
        if (!document.RootElement.EnumerateArray().Any(file => file.GetProperty("file").GetString()!.EndsWith(".tf", StringComparison.Ordinal)))
        {
            parseErrors.Add(new InfraDiagnostic(directory, "no .tf files"));
        }
        foreach (JsonElement file in document.RootElement.EnumerateArray())
        {
            string fileName = file.GetProperty("file").GetString()!;
            if (file.TryGetProperty("error", out JsonElement error))
            {
                parseErrors.Add(new InfraDiagnostic(fileName, $"HCL parse error: {error.GetString()}"));
                continue;
            }
            if (fileName == ExampleFile)
            {
                foreach (JsonProperty value in file.GetProperty("body").EnumerateObject())
                {
                    exampleValues[value.Name] = value.Value.Clone();
                }
                continue;
            }
            foreach (JsonProperty section in file.GetProperty("body").EnumerateObject())
            {
                AddSection(fileName, section, blocks, locals, localFiles, parseErrors);
            }
        }
        return new TerraformConfiguration(blocks, locals, localFiles, exampleValues, parseErrors);
    }

    private static void AddSection(string file, JsonProperty section, List<TerraformBlock> blocks, Dictionary<string, JsonElement> locals, Dictionary<string, string> localFiles, List<InfraDiagnostic> errors)
    {
        switch (section.Name)
        {
            case "resource" or "data":
                foreach (JsonProperty type in section.Value.EnumerateObject())
                {
                    foreach (JsonProperty name in type.Value.EnumerateObject())
                    {
                        blocks.AddRange(name.Value.EnumerateArray().Select(body => new TerraformBlock(file, section.Name, type.Name, name.Name, body.Clone())));
                    }
                }
                break;
            case "variable" or "output" or "module" or "provider":
                foreach (JsonProperty name in section.Value.EnumerateObject())
                {
                    string type = section.Name == "provider" ? name.Name : "";
                    blocks.AddRange(name.Value.EnumerateArray().Select(body => new TerraformBlock(file, section.Name, type, name.Name, body.Clone())));
                }
                break;
            case "terraform":
                blocks.AddRange(section.Value.EnumerateArray().Select(body => new TerraformBlock(file, "terraform", "", "terraform", body.Clone())));
                break;
            case "locals":
                foreach (JsonElement localsBlock in section.Value.EnumerateArray())
                {
                    foreach (JsonProperty local in localsBlock.EnumerateObject())
                    {
                        if (!locals.TryAdd(local.Name, local.Value.Clone()))
                        {
                            errors.Add(new InfraDiagnostic(file, $"local.{local.Name} is declared twice"));
                        }
                        localFiles.TryAdd(local.Name, file);
                    }
                }
                break;
            default:
                errors.Add(new InfraDiagnostic(file, $"unexpected top-level block '{section.Name}'"));
                break;
        }
    }
}
