using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;
using ShortcutPipeline.Core;

// The storage settings (SettingNames: a ShortcutStorage connection string locally, the identity-based
// ShortcutStorage__*ServiceUri settings in Azure) and the ShortcutPipeline__* options come from the app settings.
FunctionsApplicationBuilder builder = FunctionsApplication.CreateBuilder(args);
builder.Services.AddShortcutPipelineCore(builder.Configuration);
builder.Build().Run();
