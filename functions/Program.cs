using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;
using ShortcutPipeline.Functions;

// The storage settings (SettingNames: a ShortcutStorage connection string locally, the identity-based
// ShortcutStorage__*ServiceUri settings in Azure), the ShortcutPipeline__* options and APPLICATIONINSIGHTS_CONNECTION_STRING
// (telemetry; without it, to the console) come from the app settings.
FunctionsApplicationBuilder builder = FunctionsApplication.CreateBuilder(args);
builder.Services.AddShortcutPipelineFunctions(builder.Configuration);
builder.Build().Run();
