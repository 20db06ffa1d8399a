using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ShortcutPipeline.Core;
using ShortcutPipeline.Worker;

// The storage settings (SettingNames: a ShortcutStorage connection string locally, the identity-based
// ShortcutStorage__*ServiceUri settings in Azure), ShortcutPipeline__Storage__* names and the
// ShortcutPipeline__Worker__* tuning (WorkerOptions, ModelPreloadOptions), the health port (ShortcutPipeline__Health__Port)
// and APPLICATIONINSIGHTS_CONNECTION_STRING (telemetry; without it, to the console) come from the environment.
HostApplicationBuilder builder = Host.CreateApplicationBuilder(args);
builder.Logging.AddSimpleConsole(console =>
{
    console.SingleLine = true;
    console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fff ";
    console.UseUtcTimestamp = true;
});
builder.Services.AddShortcutPipelineCore(builder.Configuration);
builder.Services.AddShortcutPipelineWorker(builder.Configuration);
builder.Services.AddShortcutPipelineWorkerHost(builder.Configuration);
using IHost host = builder.Build();
await host.RunAsync();
