using System.Globalization;
using ShortcutPipeline.Core;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Trainer.Tests;

/// <summary>
/// The trainer run as its own process (<see cref="HostProcess"/> over <c>shortcut trainer</c>), with its options as
/// <c>ShortcutPipeline:Trainer</c> settings and single-line console logs.
/// </summary>
internal static class TrainerProcess
{
    /// <summary>Starts <c>dotnet shortcut.dll trainer {arguments}</c> over <paramref name="storage"/>.</summary>
    public static HostProcess Start(string connectionString, PipelineStorageOptions storage, TrainerHostOptions trainer, params string[] arguments)
    {
        var settings = typeof(TrainerHostOptions).GetProperties().Where(property => property.CanWrite)
            .ToDictionary(
                property => $"{TrainerHostOptions.SectionName}:{property.Name}",
                property => Convert.ToString(property.GetValue(trainer), CultureInfo.InvariantCulture));
        settings["Logging:Console:FormatterName"] = "simple";
        settings["Logging:Console:FormatterOptions:SingleLine"] = "true";
        return HostProcess.Start("trainer", connectionString, storage, settings, arguments);
    }
}
