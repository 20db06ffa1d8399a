using System.Globalization;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ShortcutPipeline.Core;
using ShortcutPipeline.Core.Storage;
using ShortcutPipeline.Model.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace ShortcutPipeline.Cli.Pipeline;

/// <summary>The files one job's download wrote.</summary>
/// <param name="JobId">The job.</param>
/// <param name="Folder">Where its images are.</param>
/// <param name="Images">The PNG files, by image index.</param>
/// <param name="ContactSheet">The contact sheet (null when the job has no images).</param>
public sealed record JobDownload(string JobId, string Folder, IReadOnlyList<string> Images, string? ContactSheet);

/// <summary>Downloads a job's PNGs from the images container and makes contact sheets of them.</summary>
public static class JobDownloader
{
    /// <summary>The contact sheet's file name in a job's folder.</summary>
    public const string ContactSheetName = "contact-sheet.png";

    /// <summary>Downloads every image of <paramref name="jobId"/> into <paramref name="outDirectory"/>/{jobId}/{index}.png, with a contact sheet.</summary>
    public static async Task<JobDownload> DownloadAsync(PipelineStorage storage, string jobId, string outDirectory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(storage);
        string folder = Path.Combine(outDirectory, jobId);
        Directory.CreateDirectory(folder);
        var blobs = new List<(int Index, string Name)>();
        await foreach (BlobItem blob in storage.ImagesContainer
                           .GetBlobsAsync(BlobTraits.None, BlobStates.None, ImageBlobNames.PrefixOf(jobId), cancellationToken).ConfigureAwait(false))
        {
            string name = blob.Name[ImageBlobNames.PrefixOf(jobId).Length..];
            if (name.EndsWith(".png", StringComparison.Ordinal)
                && int.TryParse(name[..^4], NumberStyles.None, CultureInfo.InvariantCulture, out int index))
            {
                blobs.Add((index, blob.Name));
            }
        }

        blobs.Sort((a, b) => a.Index.CompareTo(b.Index));
        byte[][] pngs = await Task.WhenAll(blobs.Select(async blob =>
        {
            BlobClient client = storage.ImagesContainer.GetBlobClient(blob.Name);
            byte[] bytes = (await client.DownloadContentAsync(cancellationToken).ConfigureAwait(false)).Value.Content.ToArray();
            await File.WriteAllBytesAsync(Path.Combine(folder, Invariant(blob.Index) + ".png"), bytes, cancellationToken).ConfigureAwait(false);
            return bytes;
        })).ConfigureAwait(false);

        string? sheet = null;
        if (pngs.Length > 0)
        {
            sheet = Path.Combine(folder, ContactSheetName);
            await File.WriteAllBytesAsync(sheet, ContactSheet(pngs), cancellationToken).ConfigureAwait(false);
        }

        return new JobDownload(jobId, folder, blobs.Select(b => Path.Combine(folder, Invariant(b.Index) + ".png")).ToList(), sheet);
    }

    /// <summary>
    /// A contact sheet of same-sized PNGs (gray when all are gray, else RGB), <paramref name="columns"/> per row,
    /// enlarged so that small images are visible (<see cref="ImageGrid.ViewingScale"/>).
    /// </summary>
    public static byte[] ContactSheet(IReadOnlyList<byte[]> pngs, int? columns = null)
    {
        ArgumentNullException.ThrowIfNull(pngs);
        using var scope = NewDisposeScope();
        Tensor images = Decode(pngs);
        return ImageGrid.EncodePng(images, columns, scale: ImageGrid.ViewingScale(images.shape[2]));
    }

    /// <summary>Decodes same-sized PNGs into uint8 (N, C, H, W), C = 1 when all are grayscale, else 3.</summary>
    /// <exception cref="InvalidDataException">A file is not a PNG, or the sizes differ.</exception>
    public static Tensor Decode(IReadOnlyList<byte[]> pngs)
    {
        ArgumentNullException.ThrowIfNull(pngs);
        if (pngs.Count == 0)
        {
            throw new ArgumentException("No images.", nameof(pngs));
        }

        bool gray = pngs.All(png => Image.Identify(png, out var format) is { } info && format is PngFormat
                                    && info.Metadata.GetPngMetadata().ColorType is PngColorType.Grayscale);
        var decoded = new List<(byte[] Pixels, int Width, int Height)>();
        foreach (byte[] png in pngs)
        {
            try
            {
                decoded.Add(gray ? Pixels<L8>(png, 1) : Pixels<Rgb24>(png, 3));
            }
            catch (Exception exception) when (exception is UnknownImageFormatException or InvalidImageContentException)
            {
                throw new InvalidDataException($"Not a readable image: {exception.Message}", exception);
            }
        }

        (int width, int height) = (decoded[0].Width, decoded[0].Height);
        if (decoded.Any(d => d.Width != width || d.Height != height))
        {
            throw new InvalidDataException("The images differ in size; a contact sheet needs them all alike.");
        }

        int channels = gray ? 1 : 3;
        byte[] all = decoded.SelectMany(d => d.Pixels).ToArray();
        using Tensor interleaved = tensor(all, [decoded.Count, height, width, channels]);
        return interleaved.permute(0, 3, 1, 2).contiguous();
    }

    private static (byte[] Pixels, int Width, int Height) Pixels<TPixel>(byte[] png, int channels)
        where TPixel : unmanaged, IPixel<TPixel>
    {
        using Image<TPixel> image = Image.Load<TPixel>(png);
        var pixels = new byte[image.Width * image.Height * channels];
        image.CopyPixelDataTo(pixels);
        return (pixels, image.Width, image.Height);
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
