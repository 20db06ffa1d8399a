using System.Text.RegularExpressions;
using ShortcutPipeline.Infra.Tests.Tooling;

namespace ShortcutPipeline.Infra.Tests;

/// <summary>bicep build, lint and build-params on every file of infra/bicep, with warnings as failures.</summary>
[Collection(InfraCollection.Name)]
public sealed partial class BicepValidationTests(InfraFixture fixture)
{
    [Fact]
    public async Task TheBicepStackBuildsAndLintsWithoutWarnings()
    {
        IReadOnlyList<InfraDiagnostic> diagnostics = await fixture.Bicep.ValidateAsync(RepositoryLayout.BicepDirectory, CancellationToken.None);

        Assert.True(diagnostics.Count == 0, string.Join(Environment.NewLine, diagnostics));
    }

    [Theory]
    [InlineData("modules/worker.bicep", "queueLength: queueLengthPerReplica", "queueLength: '${queueLengthPerReplica}'", "BCP036")] // a type error, only a warning
    [InlineData("modules/worker.bicep", "minReplicas: minReplicas", "minReplica: minReplicas", "BCP089")] // a misspelled property, only a warning
    [InlineData("modules/functions.bicep", "output name string = site.name", "output name string = site.nam", "BCP083")] // an error
    [InlineData("main.bicepparam", "param gpuType = 'T4'", "param gpuType = 'V100'", "BCP033")] // a parameter value that is not allowed
    public async Task ABrokenCopyOfTheBicepStackFails(string file, string correct, string broken, string expectedCode)
    {
        using TemporaryCopy copy = TemporaryCopy.Of(RepositoryLayout.BicepDirectory);
        copy.ReplaceOnce(file, correct, broken);

        IReadOnlyList<InfraDiagnostic> diagnostics = await fixture.Bicep.ValidateAsync(copy.Path, CancellationToken.None);

        Assert.Contains(diagnostics, diagnostic => diagnostic.File.StartsWith(file, StringComparison.Ordinal) && diagnostic.Message.Contains(expectedCode, StringComparison.Ordinal));
    }

    [Fact]
    public void NoBicepFileUsesARegistryModule()
    {
        var registryModules = Directory.EnumerateFiles(RepositoryLayout.BicepDirectory, "*.bicep*", SearchOption.AllDirectories)
            .SelectMany(file => File.ReadLines(file).Select(line => (file, line)))
            .Where(found => RegistryModule().IsMatch(found.line))
            .Select(found => $"{RepositoryLayout.Relative(found.file)}: {found.line.Trim()}")
            .ToList();

        Assert.True(registryModules.Count == 0, string.Join(Environment.NewLine, registryModules));
    }

    [GeneratedRegex(@"^\s*(module|import|using|extends)\b.*'(br|ts)[:/]")]
    private static partial Regex RegistryModule();
}
