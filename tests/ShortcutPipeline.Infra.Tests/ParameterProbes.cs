using System.Text.Json.Nodes;
using ShortcutPipeline.Infra.Tests.Stacks;

namespace ShortcutPipeline.Infra.Tests;

/// <summary>Whether each stack accepts one value of one parameter.</summary>
public sealed record ProbeOutcome(string Parameter, JsonNode? Value, bool BicepAccepts, bool TerraformAccepts, string Why)
{
    public override string ToString() =>
        $"{Parameter} = {Value?.ToJsonString()}: Bicep {(BicepAccepts ? "accepts" : "refuses")}, Terraform {(TerraformAccepts ? "accepts" : "refuses")} ({Why})";
}

/// <summary>
/// Values on both sides of each shared parameter's limits. Terraform's validation blocks are evaluated;
/// Bicep's decorators (allowedValues, minValue…) are applied as Resource Manager applies them. A value the
/// decorators let through is also snapshot with main.bicepparam (bicep snapshot runs the template's own checks)
/// when Terraform refuses it, or when the parameter is one that the Bicep template checks in its body.
/// </summary>
public static class ParameterProbes
{
    /// <summary>Parameters that main.bicep checks beyond its decorators (Bicep has no pattern decorator): their probes are all snapshot.</summary>
    public static IReadOnlySet<string> BicepBodyChecked { get; } = new HashSet<string>(StringComparer.Ordinal) { "name_prefix" };

    /// <summary>The probe values of each shared parameter (snake_case); parameters without checks get an ordinary value.</summary>
    public static IReadOnlyDictionary<string, JsonNode?[]> Values { get; } = new Dictionary<string, JsonNode?[]>(StringComparer.Ordinal)
    {
        ["location"] = ["swedencentral"],
        ["name_prefix"] = ["ab", "shortcut1", "abcdefghij", "abcdefghijk", "ab-c", "Abc"],
        ["gpu_type"] = ["T4", "A100", "V100", "t4"],
        ["worker_min_replicas"] = [-1, 0, 2],
        ["worker_max_replicas"] = [0, 1, 100, 101],
        ["worker_queue_length_per_replica"] = [0, 1],
        ["worker_cooldown_seconds"] = [-1, 0, 3600, 3601],
        ["trainer_max_executions"] = [0, 1],
        ["trainer_timeout_seconds"] = [59, 60],
        ["functions_maximum_instance_count"] = [0, 1, 1000, 1001],
        ["functions_dotnet_version"] = ["10.0"],
        ["training_schedule"] = ["0 0 3 * * *"],
        ["training_interval"] = ["1.00:00:00"],
        ["training_request"] = [""],
        ["image_tag"] = ["v2"],
        ["deploy_container_apps"] = [false],
        ["operator_principal_id"] = ["", InfraFixture.OperatorPrincipalId],
        ["operator_principal_type"] = ["User", "Group", "ServicePrincipal", "Robot"],
        ["callback_signing_secret"] = ["", InfraFixture.CallbackSigningSecret],
        ["tags"] = [new JsonObject { ["team"] = "imaging" }],
    };

    /// <summary>Both stacks' verdicts on every probe value of <paramref name="parameters"/>.</summary>
    public static async Task<IReadOnlyList<ProbeOutcome>> RunAsync(InfraFixture fixture, IEnumerable<string> parameters)
    {
        using var snapshots = new SemaphoreSlim(2);
        var probes = parameters.SelectMany(name => Values[name].Select(value => (name, value))).ToList();
        return await Task.WhenAll(probes.Select(async probe =>
        {
            IReadOnlyList<string> terraform = fixture.TerraformStack.Parameters[probe.name].Problems(probe.value);
            IReadOnlyList<string> bicep = fixture.BicepStack.Parameters[probe.name].Problems(probe.value);
            if (bicep.Count == 0 && (terraform.Count > 0 || BicepBodyChecked.Contains(probe.name)))
            {
                await snapshots.WaitAsync();
                try
                {
                    bicep = await SnapshotProblemsAsync(fixture, probe.name, probe.value);
                }
                finally
                {
                    snapshots.Release();
                }
            }
            return new ProbeOutcome(probe.name, probe.value, bicep.Count == 0, terraform.Count == 0,
                $"Bicep: {Describe(bicep)}; Terraform: {Describe(terraform)}");
        }));
    }

    private static async Task<IReadOnlyList<string>> SnapshotProblemsAsync(InfraFixture fixture, string parameter, JsonNode? value)
    {
        string camelCase = string.Concat(parameter.Split('_').Select((part, index) => index == 0 ? part : char.ToUpperInvariant(part[0]) + part[1..]));
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            (await fixture.Bicep.SnapshotAsync(InfraFixture.MainParameters, timeout.Token, new Dictionary<string, JsonNode?> { [camelCase] = value })).Dispose();
            return [];
        }
        catch (InvalidOperationException refused)
        {
            return [refused.Message];
        }
    }

    private static string Describe(IReadOnlyList<string> problems) => problems.Count == 0 ? "ok" : string.Join("; ", problems);
}
