using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ShortcutPipeline.Core.Callbacks;
using ShortcutPipeline.Infra.Tests.Stacks;

namespace ShortcutPipeline.Infra.Tests;

/// <summary>
/// Job callbacks are signed with <see cref="CallbackOptions.SigningSecret"/> when a deployment is given one. Both stacks
/// take it as a secret parameter (empty by default) and give it to the two apps that send callbacks: the Functions app
/// (cancelled jobs) as an app setting, the worker (completed and failed jobs) as a container app secret that its
/// environment variable references, never as a plain value. The trainer sends none and gets nothing. Without a secret,
/// nothing of it is deployed. Each in both stacks; <see cref="StackParityTests"/> compares the two by value.
/// </summary>
[Collection(InfraCollection.Name)]
public sealed class CallbackSigningSecretTests(InfraFixture fixture)
{
    /// <summary>The stacks' parameter (snake_case): Bicep's callbackSigningSecret, Terraform's callback_signing_secret.</summary>
    public const string Parameter = "callback_signing_secret";

    /// <summary>ShortcutPipeline__Callbacks__SigningSecret, the setting the apps read the secret from.</summary>
    public static readonly string Setting =
        CallbackOptions.SectionName.Replace(":", "__", StringComparison.Ordinal) + "__" + nameof(CallbackOptions.SigningSecret);

    public static TheoryData<string> Stacks => new() { "bicep", "terraform" };

    [Theory]
    [MemberData(nameof(Stacks))]
    public void TheStackTakesTheSecretAsASecureParameterThatIsEmptyByDefault(string stack)
    {
        Assert.True(fixture.Stack(stack).Parameters.TryGetValue(Parameter, out StackParameter? parameter), $"{stack} has no {Parameter} parameter");

        Assert.True(parameter.Sensitive, $"{stack}: {Parameter} is not secure (Bicep @secure(), Terraform sensitive = true)");
        Assert.Equal("", parameter.Default?.GetValue<string>());
        Assert.Empty(parameter.Problems(InfraFixture.CallbackSigningSecret));
    }

    [Fact]
    public void TheExampleFilesSetNoSecret()
    {
        var secureParameters = fixture.BicepStack.Parameters.Where(parameter => parameter.Value.Sensitive).Select(parameter => parameter.Key).ToList();
        Assert.Contains(Parameter, secureParameters);

        Assert.All(secureParameters, name =>
        {
            Assert.False(fixture.BicepExampleValues.ContainsKey(name), $"main.bicepparam sets the secret {name}");
            Assert.False(fixture.Terraform.ExampleValues.ContainsKey(name), $"terraform.tfvars.example sets the secret {name}");
        });
    }

    [Fact]
    public void TheBicepModulesThatGetTheSecretTakeItAsSecureParameters()
    {
        // A module parameter that is not @secure() would show the value in the nested deployment's parameters.
        JsonElement main = fixture.CompiledMain.RootElement;
        Assert.Equal("securestring", main.GetProperty("parameters").GetProperty("callbackSigningSecret").GetProperty("type").GetString());

        var modules = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (JsonElement resource in Resources(main).Where(resource => resource.GetProperty("type").GetString() == "Microsoft.Resources/deployments"))
        {
            JsonElement properties = resource.GetProperty("properties");
            if (properties.GetProperty("template").GetProperty("parameters").TryGetProperty("callbackSigningSecret", out JsonElement declared))
            {
                modules[resource.GetProperty("name").GetString()!] = declared.GetProperty("type").GetString();
                Assert.Equal("[parameters('callbackSigningSecret')]", properties.GetProperty("parameters").GetProperty("callbackSigningSecret").GetProperty("value").GetString());
            }
        }

        // The Functions app sends the callbacks of cancelled jobs, the worker those of completed and failed ones; the trainer none.
        Assert.Equal(new Dictionary<string, string?> { ["functions"] = "securestring", ["worker"] = "securestring" }, modules);
    }

    [Theory]
    [MemberData(nameof(Stacks))]
    public async Task WithTheSecretTheWorkerGetsAContainerAppSecretThatItsEnvironmentVariableReferences(string stack)
    {
        StackDescription description = await WithSecretAsync(stack);
        JsonObject worker = description.AppProperties[PipelineApp.Worker];

        Assert.True(description.AppSettings[PipelineApp.Worker].TryGetValue(Setting, out AppSetting? setting), $"{stack}: the worker gets no {Setting}");
        Assert.Null(setting.Value);
        Assert.NotNull(setting.SecretRef);
        JsonObject variable = Assert.Single(ArmShapes.AppContainers(worker).SelectMany(container => container["env"]!.AsArray().OfType<JsonObject>()),
            item => item["name"]?.GetValue<string>() == Setting);
        Assert.Equal(new[] { "name", "secretRef" }, variable.Select(property => property.Key).Order(StringComparer.Ordinal));
        // The only secret of the worker: its value is the parameter's.
        Assert.Equal(new Dictionary<string, string?> { [setting.SecretRef] = InfraFixture.CallbackSigningSecret }, ArmShapes.Secrets(worker));
    }

    [Theory]
    [MemberData(nameof(Stacks))]
    public async Task WithTheSecretTheFunctionsAppGetsTheSetting(string stack)
    {
        StackDescription description = await WithSecretAsync(stack);

        // Flex Consumption keeps app settings encrypted at rest; a Key Vault reference would be the stronger form.
        Assert.True(description.AppSettings[PipelineApp.Functions].TryGetValue(Setting, out AppSetting? setting), $"{stack}: the Functions app gets no {Setting}");
        Assert.Equal(new AppSetting(InfraFixture.CallbackSigningSecret, null), setting);
    }

    [Theory]
    [MemberData(nameof(Stacks))]
    public async Task TheSecretIsWrittenOnlyWhereItBelongsAndNeverIntoAPlainEnvironmentVariable(string stack)
    {
        StackDescription description = await WithSecretAsync(stack);
        string secretName = description.AppSettings[PipelineApp.Worker].GetValueOrDefault(Setting)?.SecretRef ?? "(no secretRef)";

        // Every string of every app's properties that holds the secret, by path (list items by name).
        Assert.Equal(new[] { $"$.configuration.secrets[{secretName}].value" }, Occurrences(description.AppProperties[PipelineApp.Worker], InfraFixture.CallbackSigningSecret));
        Assert.Equal(new[] { $"$.siteConfig.appSettings[{Setting}].value" }, Occurrences(description.AppProperties[PipelineApp.Functions], InfraFixture.CallbackSigningSecret));
        Assert.Empty(Occurrences(description.AppProperties[PipelineApp.Trainer], InfraFixture.CallbackSigningSecret));
        foreach (PipelineApp app in new[] { PipelineApp.Worker, PipelineApp.Trainer })
        {
            Assert.DoesNotContain(description.AppSettings[app].Values, setting => setting.Value?.Contains(InfraFixture.CallbackSigningSecret, StringComparison.Ordinal) == true);
        }
    }

    [Theory]
    [MemberData(nameof(Stacks))]
    public async Task TheTrainerNeverGetsTheSecret(string stack)
    {
        StackDescription description = await WithSecretAsync(stack);
        JsonObject trainer = description.AppProperties[PipelineApp.Trainer];

        Assert.DoesNotContain(Setting, description.AppSettings[PipelineApp.Trainer].Keys);
        Assert.Empty(ArmShapes.Secrets(trainer));
        Assert.Null(trainer["configuration"]?["secrets"]);
    }

    [Theory]
    [MemberData(nameof(Stacks))]
    public async Task WithoutTheSecretNothingOfItIsDeployed(string stack)
    {
        StackDescription plain = fixture.Stack(stack);
        string secretName = (await WithSecretAsync(stack)).AppSettings[PipelineApp.Worker].GetValueOrDefault(Setting)?.SecretRef ?? "(no secretRef)";

        foreach ((PipelineApp app, JsonObject properties) in plain.AppProperties)
        {
            Assert.DoesNotContain(Setting, plain.AppSettings[app].Keys);
            Assert.Empty(Occurrences(properties, Setting));
            Assert.Empty(Occurrences(properties, secretName));
            // No secrets property at all: the body is the one a deployment without the secret always had.
            Assert.False(properties["configuration"] is JsonObject configuration && configuration.ContainsKey("secrets"), $"{stack}: the {app} has a secrets property");
        }
    }

    private async Task<StackDescription> WithSecretAsync(string stack) =>
        stack == "bicep" ? await fixture.BicepStackWithCallbackSecretAsync() : fixture.TerraformStackWithCallbackSecret;

    /// <summary>The compiled template's resources: an array, or (languageVersion 2.0) an object by symbolic name.</summary>
    private static IEnumerable<JsonElement> Resources(JsonElement template)
    {
        JsonElement resources = template.GetProperty("resources");
        return resources.ValueKind == JsonValueKind.Array
            ? resources.EnumerateArray().ToList()
            : resources.EnumerateObject().Select(resource => resource.Value).ToList();
    }

    /// <summary>The paths of the strings (and property names) in <paramref name="value"/> that contain <paramref name="text"/>; list items by their name.</summary>
    private static List<string> Occurrences(JsonNode? value, string text)
    {
        var found = new List<string>();
        void Walk(JsonNode? node, string path)
        {
            switch (node)
            {
                case JsonObject obj:
                    foreach ((string key, JsonNode? child) in obj)
                    {
                        if (key.Contains(text, StringComparison.Ordinal))
                        {
                            found.Add($"{path}.{key} (a property name)");
                        }
                        Walk(child, $"{path}.{key}");
                    }
                    break;
                case JsonArray array:
                    for (int i = 0; i < array.Count; i++)
                    {
                        string key = array[i] is JsonObject item && item["name"] is JsonValue name && name.TryGetValue(out string? itemName)
                            ? itemName
                            : i.ToString(CultureInfo.InvariantCulture);
                        Walk(array[i], $"{path}[{key}]");
                    }
                    break;
                case JsonValue scalar when scalar.TryGetValue(out string? s) && s.Contains(text, StringComparison.Ordinal):
                    found.Add(path);
                    break;
            }
        }
        Walk(value, "$");
        return found;
    }
}
