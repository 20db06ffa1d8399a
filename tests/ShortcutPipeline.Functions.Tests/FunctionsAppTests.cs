using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Functions.Tests;

/// <summary>The app's build output: no TorchSharp anywhere, host.json along, services resolvable as Program registers them.</summary>
public sealed class FunctionsAppTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static readonly string FunctionsOutput = RepositoryPaths.BuildOutput("functions");

    [Fact]
    public void TheFunctionsAppCarriesNoTorchSharp()
    {
        string depsFile = Path.Combine(FunctionsOutput, "ShortcutPipeline.Functions.deps.json");
        Assert.True(File.Exists(depsFile), $"{depsFile} is missing: build functions/ first.");
        using JsonDocument deps = JsonDocument.Parse(File.ReadAllText(depsFile));

        string[] libraries = deps.RootElement.GetProperty("libraries").EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Contains(libraries, name => name.StartsWith("ShortcutPipeline.Core/", StringComparison.Ordinal));
        Assert.DoesNotContain(libraries, IsTorchOrModel);
        Assert.DoesNotContain(Directory.EnumerateFiles(FunctionsOutput, "*", SearchOption.AllDirectories),
            file => IsTorchOrModel(Path.GetFileName(file)));
        Assert.DoesNotContain(typeof(JobQueueFunction).Assembly.GetReferencedAssemblies(), a => IsTorchOrModel(a.Name!));
        Assert.DoesNotContain(typeof(PipelineStorage).Assembly.GetReferencedAssemblies(), a => IsTorchOrModel(a.Name!));
    }

    [Fact]
    public void HostJsonIsTheRepositorysAndReadsQueueMessagesAsPlainText()
    {
        string copied = File.ReadAllText(Path.Combine(FunctionsOutput, "host.json"));

        Assert.Equal(File.ReadAllText(Path.Combine(RepositoryPaths.Root, "host.json")), copied);
        using JsonDocument host = JsonDocument.Parse(copied);
        Assert.Equal("none", host.RootElement.GetProperty("extensions").GetProperty("queues").GetProperty("messageEncoding").GetString());
    }

    [Fact]
    public async Task FunctionClassesResolveFromTheCoreRegistration()
    {
        PipelineStorageOptions names = AzuriteFixture.CreateIsolatedNames();
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [SettingNames.StorageConnection] = azurite.ConnectionString,
            [$"{PipelineStorageOptions.SectionName}:{nameof(PipelineStorageOptions.JobsTable)}"] = names.JobsTable,
        }).Build();
        var services = new ServiceCollection()
            .AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance)
            .AddSingleton(typeof(ILogger<>), typeof(Logger<>))
            .AddShortcutPipelineCore(configuration);
        await using ServiceProvider provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        await provider.GetRequiredService<PipelineStorage>().EnsureCreatedAsync();

        JobHttpFunctions http = ActivatorUtilities.CreateInstance<JobHttpFunctions>(provider);
        ActivatorUtilities.CreateInstance<JobQueueFunction>(provider);
        ActivatorUtilities.CreateInstance<TrainingHttpFunctions>(provider);
        ActivatorUtilities.CreateInstance<TrainingScheduleFunction>(provider);
        var response = (TestHttpResponseData)await http.GetAsync(
            new TestHttpRequestData("GET", new Uri("http://localhost/api/jobs/none")), "none", CancellationToken.None);

        Assert.Equal(System.Net.HttpStatusCode.NotFound, response.StatusCode);
    }

    private static bool IsTorchOrModel(string name) =>
        name.Contains("TorchSharp", StringComparison.OrdinalIgnoreCase)
        || name.Contains("libtorch", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("ShortcutPipeline.Model", StringComparison.Ordinal);
}
