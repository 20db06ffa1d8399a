namespace ShortcutPipeline.Core.Contracts;

/// <summary>
/// The configurable limits of the job contract (section <see cref="SectionName"/>) and its fixed bounds.
/// </summary>
public sealed class GenerationJobLimits
{
    /// <summary>The configuration section these options bind from (<c>ShortcutPipeline__Jobs__MaxImagesPerJob</c>, ...).</summary>
    public const string SectionName = "ShortcutPipeline:Jobs";

    /// <summary>The largest number of sampling steps (steps are powers of two from 1 to this).</summary>
    public const int MaxSteps = 128;

    /// <summary>The largest classifier-free guidance scale.</summary>
    public const double MaxCfgScale = 20;

    /// <summary>The longest job id.</summary>
    public const int MaxIdLength = 64;

    /// <summary>The most images one job may ask for (default 256).</summary>
    public int MaxImagesPerJob { get; set; } = 256;

    /// <summary>The largest job message, in UTF-8 bytes (default 64 KiB, a queue message's limit).</summary>
    public int MaxMessageBytes { get; set; } = 64 * 1024;

    /// <summary>The most images one <see cref="WorkItem"/> carries (default 16).</summary>
    public int MaxImagesPerWorkItem { get; set; } = 16;

    /// <summary>
    /// How much of a message the status record keeps, in UTF-8 bytes (default 64 KiB, the table service's
    /// limit for one property); longer messages are kept truncated and flagged as such.
    /// </summary>
    public int MaxStoredMessageBytes { get; set; } = 64 * 1024;

    /// <summary>Throws when a limit is out of range.</summary>
    public void Validate()
    {
        if (MaxImagesPerJob < 1 || MaxMessageBytes < 1 || MaxImagesPerWorkItem < 1 || MaxStoredMessageBytes < 0)
        {
            throw new InvalidOperationException(
                $"Invalid job limits: {nameof(MaxImagesPerJob)}, {nameof(MaxMessageBytes)} and {nameof(MaxImagesPerWorkItem)} must be at least 1, {nameof(MaxStoredMessageBytes)} at least 0.");
        }

        if (MaxStoredMessageBytes > 64 * 1024)
        {
            throw new InvalidOperationException($"{nameof(MaxStoredMessageBytes)} may be at most 65536 (a table property's limit).");
        }
    }
}
