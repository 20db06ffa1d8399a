using System.Globalization;

namespace ShortcutPipeline.Core;

/// <summary>
/// Names of the generated images inside the <see cref="StorageNames.ImagesContainer"/> container:
/// <c>{jobId}/{index}.png</c>. The worker writes them and the status service links them, both through here.
/// </summary>
public static class ImageBlobNames
{
    /// <summary>The blob name of image <paramref name="index"/> (0-based) of job <paramref name="jobId"/>.</summary>
    public static string For(string jobId, int index)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        return string.Create(CultureInfo.InvariantCulture, $"{jobId}/{index}.png");
    }

    /// <summary>The prefix under which all images of job <paramref name="jobId"/> lie (for listing).</summary>
    public static string PrefixOf(string jobId)
    {
        ArgumentException.ThrowIfNullOrEmpty(jobId);
        return jobId + "/";
    }
}
