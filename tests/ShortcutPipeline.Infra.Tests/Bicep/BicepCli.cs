using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ShortcutPipeline.Infra.Tests.Terraform;
using ShortcutPipeline.Infra.Tests.Tooling;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Infra.Tests.Bicep;

/// <summary>
/// Runs the Bicep CLI offline (no registry modules) and turns what it prints into diagnostics.
/// The CLI exits with 0 on warnings, and it reports many type errors only as warnings (an unknown
/// property, a wrong type), so every warning counts as a failure here.
/// </summary>
public sealed partial class BicepCli(string executablePath)
{
    /// <summary>Subscription, resource group and region that snapshots evaluate the templates in.</summary>
    public const string SnapshotSubscriptionId = "00000000-0000-0000-0000-000000000000";
    public const string SnapshotResourceGroup = "rg-shortcut";
    public const string SnapshotLocation = "swedencentral";

    public static BicepCli FromNuGetPackage()
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The tests use the linux-x64 build of the Bicep CLI.");
        }
        string path = RepositoryLayout.BicepExecutable;
        UnixFileMode mode = File.GetUnixFileMode(path);
        if ((mode & UnixFileMode.UserExecute) == 0)
        {
            File.SetUnixFileMode(path, mode | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        }
        return new BicepCli(path);
    }

    /// <summary>bicep build and bicep lint on every .bicep file, bicep build-params on every .bicepparam file.</summary>
    public async Task<IReadOnlyList<InfraDiagnostic>> ValidateAsync(string directory, CancellationToken cancellationToken)
    {
        using var output = new TempDirectory("shortcut-infra-");
        var diagnostics = new List<InfraDiagnostic>();
        if (!Directory.EnumerateFiles(directory, "*.bicep", SearchOption.AllDirectories).Any())
        {
            diagnostics.Add(new InfraDiagnostic(directory, "no .bicep files to validate"));
        }
        var runs = new List<Task<IReadOnlyList<InfraDiagnostic>>>
        {
            RunAsync(directory, ["build", "--pattern", "**/*.bicep", "--outdir", output.Path], cancellationToken),
            RunAsync(directory, ["lint", "--pattern", "**/*.bicep"], cancellationToken),
        };
        runs.AddRange(Directory.EnumerateFiles(directory, "*.bicepparam", SearchOption.AllDirectories).Select(parameters =>
            RunAsync(directory, ["build-params", parameters, "--outfile", Path.Combine(output.Path, Path.GetFileName(parameters) + ".json")], cancellationToken)));
        foreach (IReadOnlyList<InfraDiagnostic> found in await Task.WhenAll(runs))
        {
            diagnostics.AddRange(found);
        }
        return diagnostics.Distinct().ToList();
    }

    /// <summary>bicep build on one file (the compiler's type checks only, no linter).</summary>
    public Task<IReadOnlyList<InfraDiagnostic>> BuildAsync(string directory, string pattern, CancellationToken cancellationToken)
    {
        string output = Path.Combine(directory, "out");
        return RunAsync(directory, ["build", "--pattern", pattern, "--outdir", output], cancellationToken);
    }

    /// <summary>The compiled ARM template (JSON) of one .bicep file.</summary>
    public async Task<JsonDocument> CompileAsync(string bicepFile, CancellationToken cancellationToken)
    {
        ProcessResult result = await ExternalProcess.RunAsync(
            executablePath, ["build", bicepFile, "--stdout"], Path.GetDirectoryName(bicepFile)!, cancellationToken);
        ThrowOnDiagnostics(bicepFile, result);
        return JsonDocument.Parse(result.StandardOutput);
    }

    /// <summary>
    /// The resources that a deployment of a .bicepparam file would create (bicep snapshot): modules and loops
    /// expanded, names and literal values evaluated, values known only at deployment left as expressions.
    /// <paramref name="overrides"/> (camelCase names) replace or add parameter values of the file.
    /// </summary>
    /// <exception cref="InvalidOperationException">Bicep reports a problem, or the template refuses the parameters.</exception>
    public async Task<JsonDocument> SnapshotAsync(
        string parametersFile, CancellationToken cancellationToken, IReadOnlyDictionary<string, JsonNode?>? overrides = null)
    {
        using TemporaryCopy copy = TemporaryCopy.Of(Path.GetDirectoryName(parametersFile)!);
        string copiedParameters = Path.Combine(copy.Path, Path.GetFileName(parametersFile));
        if (overrides is not null)
        {
            File.WriteAllText(copiedParameters, WithValues(File.ReadAllText(copiedParameters), overrides));
        }
        ProcessResult result = await ExternalProcess.RunAsync(
            executablePath,
            ["snapshot", copiedParameters, "--mode", "overwrite",
             "--subscription-id", SnapshotSubscriptionId, "--resource-group", SnapshotResourceGroup, "--location", SnapshotLocation],
            copy.Path, cancellationToken);
        ThrowOnDiagnostics(parametersFile, result);
        string snapshotFile = Path.ChangeExtension(copiedParameters, ".snapshot.json");
        var snapshot = JsonDocument.Parse(await File.ReadAllTextAsync(snapshotFile, cancellationToken));
        if (snapshot.RootElement.GetProperty("diagnostics").GetArrayLength() != 0)
        {
            throw new InvalidOperationException($"bicep snapshot of {parametersFile} reported: {snapshot.RootElement.GetProperty("diagnostics")}");
        }
        return snapshot;
    }

    /// <summary>The parameter values that a .bicepparam file sets (bicep build-params), by snake_case name.</summary>
    public async Task<IReadOnlyDictionary<string, JsonNode?>> ParameterValuesAsync(string parametersFile, CancellationToken cancellationToken)
    {
        ProcessResult result = await ExternalProcess.RunAsync(
            executablePath, ["build-params", parametersFile, "--stdout"], Path.GetDirectoryName(parametersFile)!, cancellationToken);
        ThrowOnDiagnostics(parametersFile, result);
        using JsonDocument output = JsonDocument.Parse(result.StandardOutput);
        using JsonDocument parameters = JsonDocument.Parse(output.RootElement.GetProperty("parametersJson").GetString()!);
        return parameters.RootElement.GetProperty("parameters").EnumerateObject().ToDictionary(
            parameter => AzurermSchema.SnakeCase(parameter.Name),
            parameter => TerraformEvaluator.ToNode(parameter.Value.GetProperty("value")),
            StringComparer.Ordinal);
    }

    /// <summary>A .bicepparam text with the <c>param</c> lines of <paramref name="values"/> replaced, or added.</summary>
    public static string WithValues(string bicepParameters, IReadOnlyDictionary<string, JsonNode?> values)
    {
        var lines = bicepParameters.Split('\n').Where(line => !values.Keys.Any(name => ParameterLine(name).IsMatch(line))).ToList();
        lines.AddRange(values.Select(value => $"param {value.Key} = {BicepLiteral(value.Value)}"));
        return string.Join('\n', lines) + "\n";
    }

    private static Regex ParameterLine(string name) => new($@"^\s*param\s+{Regex.Escape(name)}\s*=");

    private static string BicepLiteral(JsonNode? value) => value switch
    {
        null => "null",
        JsonValue scalar when scalar.TryGetValue(out string? text) => AzapiBodies.BicepString(text),
        JsonValue scalar when scalar.TryGetValue(out bool flag) => flag ? "true" : "false",
        JsonValue scalar => scalar.ToJsonString(),
        _ => throw new NotSupportedException($"Only scalar parameter values are written: {value.ToJsonString()}."),
    };

    private async Task<IReadOnlyList<InfraDiagnostic>> RunAsync(string directory, string[] arguments, CancellationToken cancellationToken)
    {
        ProcessResult result = await ExternalProcess.RunAsync(executablePath, arguments, directory, cancellationToken);
        return Diagnostics(directory, $"bicep {arguments[0]}", result);
    }

    private static void ThrowOnDiagnostics(string file, ProcessResult result)
    {
        IReadOnlyList<InfraDiagnostic> diagnostics = Diagnostics(Path.GetDirectoryName(file)!, "bicep", result);
        if (diagnostics.Count > 0)
        {
            throw new InvalidOperationException(string.Join(Environment.NewLine, diagnostics));
        }
    }

    /// <summary>Errors and warnings (treated alike), anything else on stderr, and a failing exit code.</summary>
    private static IReadOnlyList<InfraDiagnostic> Diagnostics(string directory, string command, ProcessResult result)
    {
        var diagnostics = new List<InfraDiagnostic>();
        foreach (string line in result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            Match match = DiagnosticLine().Match(line);
            if (!match.Success)
            {
                diagnostics.Add(new InfraDiagnostic(directory, $"{command}: {line}"));
            }
            else if (match.Groups["level"].Value is "Error" or "Warning")
            {
                string file = Path.GetRelativePath(directory, match.Groups["file"].Value).Replace('\\', '/');
                diagnostics.Add(new InfraDiagnostic(
                    $"{file}({match.Groups["position"].Value})",
                    $"{command}: {match.Groups["level"].Value} {match.Groups["code"].Value}: {match.Groups["message"].Value}"));
            }
        }
        if (result.ExitCode != 0 && diagnostics.Count == 0)
        {
            diagnostics.Add(new InfraDiagnostic(directory, $"{command} exited with {result.ExitCode}: {result.StandardOutput}"));
        }
        return diagnostics;
    }

    [GeneratedRegex(@"^(?<file>.+)\((?<position>\d+,\d+)\) : (?<level>Error|Warning|Info) (?<code>[^:]+): (?<message>.*)$")]
    private static partial Regex DiagnosticLine();
}
