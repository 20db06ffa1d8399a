using System.Runtime.CompilerServices;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Data;

/// <summary>
/// Loads a labelled image dataset from a folder with one sub-folder per class (the torchvision ImageFolder
/// layout): class names are the sub-folder names in ordinal order, a label is a class's index. Each PNG or JPEG
/// (.png, .jpg, .jpeg) is converted to gray (L8, ITU-R BT.709 luminance) or RGB (Rgb24), center-cropped to a square
/// and resized to the requested size (ImageSharp's bicubic resampler). Other files and hidden entries are skipped.
/// </summary>
public static class ImageFolder
{
    private static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg"];

    /// <summary>Loads every image under <paramref name="root"/> into an <see cref="ImageDataset"/>.</summary>
    /// <param name="root">The folder holding one sub-folder per class.</param>
    /// <param name="imageSize">Side length of the square images returned.</param>
    /// <param name="channels">1 for gray, 3 for RGB.</param>
    /// <param name="maxImagesPerClass">Load at most this many images of each class (the first ones by file name).</param>
    /// <param name="cancellationToken">Stops the load between files.</param>
    /// <exception cref="DirectoryNotFoundException">The root does not exist.</exception>
    /// <exception cref="InvalidDataException">The root has no class folders, a class folder has no images, or an
    /// image is corrupt or unreadable; the message names the folder or file.</exception>
    public static async Task<ImageDataset> LoadAsync(string root, int imageSize, int channels, int? maxImagesPerClass = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (imageSize < 1) throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, "Image size must be positive.");
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "Channels must be 1 (gray) or 3 (RGB).");
        if (maxImagesPerClass < 1) throw new ArgumentOutOfRangeException(nameof(maxImagesPerClass), maxImagesPerClass, "Must be positive.");
        var (classNames, files) = ListImages(root, maxImagesPerClass);

        int imageBytes = imageSize * imageSize * channels;
        var pixels = new byte[(long)files.Count * imageBytes];
        for (int i = 0; i < files.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var image = channels == 1
                ? await ReadSquareAsync<L8>(files[i].Path, imageSize, cancellationToken).ConfigureAwait(false)
                : await ReadSquareAsync<Rgb24>(files[i].Path, imageSize, cancellationToken).ConfigureAwait(false);
            image.CopyTo(pixels, (long)i * imageBytes);
        }

        using var scope = NewDisposeScope();
        var images = ByteTensor.From(pixels, files.Count, imageSize, imageSize, channels).permute(0, 3, 1, 2);
        var labels = tensor(files.Select(f => (long)f.Label).ToArray(), [files.Count], ScalarType.Int64);
        return new ImageDataset(images, labels, classNames);
    }

    /// <summary>The class names (the sub-folders, in ordinal order) and every image with its class's index.</summary>
    private static (string[] ClassNames, List<(string Path, int Label)> Files) ListImages(string root, int? maxImagesPerClass)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"Image folder {root} does not exist.");
        var classFolders = new DirectoryInfo(root).EnumerateDirectories()
            .Where(d => !d.Name.StartsWith('.'))
            .OrderBy(d => d.Name, StringComparer.Ordinal)
            .ToList();
        if (classFolders.Count == 0)
            throw new InvalidDataException($"Image folder {root} has no class sub-folders; put each class's images in root/<class name>/.");

        var files = new List<(string Path, int Label)>();
        foreach (var (folder, label) in classFolders.Select((folder, label) => (folder, label)))
        {
            var images = folder.EnumerateFiles()
                .Where(f => !f.Name.StartsWith('.') && ImageExtensions.Contains(f.Extension, StringComparer.OrdinalIgnoreCase))
                .Select(f => f.FullName)
                .Order(StringComparer.Ordinal)
                .Take(maxImagesPerClass ?? int.MaxValue)
                .ToList();
            if (images.Count == 0)
                throw new InvalidDataException($"Class folder {folder.FullName} holds no PNG or JPEG images.");
            files.AddRange(images.Select(path => (path, label)));
        }
        return (classFolders.Select(d => d.Name).ToArray(), files);
    }

    /// <summary>Decodes one image as <typeparamref name="TPixel"/>, center-crops it square and resizes it; returns its interleaved bytes.</summary>
    private static async Task<byte[]> ReadSquareAsync<TPixel>(string path, int size, CancellationToken cancellationToken)
        where TPixel : unmanaged, IPixel<TPixel>
    {
        try
        {
            using var image = await Image.LoadAsync<TPixel>(path, cancellationToken).ConfigureAwait(false);
            // Crop first, so that the resampler sees only the square's own pixels.
            int side = Math.Min(image.Width, image.Height);
            var square = new Rectangle((image.Width - side) / 2, (image.Height - side) / 2, side, side);
            image.Mutate(x => x.Crop(square).Resize(size, size));
            var pixels = new byte[size * size * Unsafe.SizeOf<TPixel>()];
            image.CopyPixelDataTo(pixels);
            return pixels;
        }
        catch (Exception e) when (e is ImageFormatException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new InvalidDataException($"Image {path} is corrupt or unreadable: {e.Message}", e);
        }
    }
}
