using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Imaging;

/// <summary>
/// Encodes 8-bit grayscale or RGB pixels to PNG (ImageSharp), with optional text chunks carrying provenance
/// (job id, item index, seed, steps, class, model version), and reads those chunks back.
/// </summary>
public static class PngWriter
{
    /// <summary>
    /// Encodes interleaved pixels: row by row, <paramref name="channels"/> bytes per pixel (1 = gray, 3 = RGB).
    /// Each text entry becomes a tEXt chunk (zTXt when over 1 KiB, iTXt when it is not Latin-1).
    /// </summary>
    /// <exception cref="ArgumentException">Sizes do not match the pixel count, or a keyword is not a valid PNG
    /// keyword (1 to 79 printable Latin-1 characters, no leading, trailing or double spaces).</exception>
    public static byte[] Encode(ReadOnlySpan<byte> pixels, int width, int height, int channels,
        IReadOnlyDictionary<string, string>? text = null)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"Image size must be positive, got {width}x{height}.");
        if (channels is not (1 or 3)) throw new ArgumentException($"Channels must be 1 (gray) or 3 (RGB), got {channels}.", nameof(channels));
        if (pixels.Length != (long)width * height * channels)
            throw new ArgumentException(
                $"Expected {width}x{height}x{channels} = {(long)width * height * channels} bytes, got {pixels.Length}.", nameof(pixels));

        using Image image = channels == 1
            ? Image.LoadPixelData<L8>(pixels, width, height)
            : Image.LoadPixelData<Rgb24>(pixels, width, height);
        var metadata = image.Metadata.GetPngMetadata();
        foreach (var (keyword, value) in text ?? new Dictionary<string, string>())
        {
            ValidateKeyword(keyword);
            metadata.TextData.Add(new PngTextData(keyword, value ?? string.Empty, string.Empty, string.Empty));
        }
        var encoder = new PngEncoder
        {
            ColorType = channels == 1 ? PngColorType.Grayscale : PngColorType.Rgb,
            BitDepth = PngBitDepth.Bit8,
        };
        using var output = new MemoryStream();
        image.SaveAsPng(output, encoder);
        return output.ToArray();
    }

    /// <summary>Encodes a uint8 image tensor shaped (C, H, W) with C = 1 or 3 (any device).</summary>
    public static byte[] Encode(Tensor image, IReadOnlyDictionary<string, string>? text = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.dtype != ScalarType.Byte || image.dim() != 3 || image.shape[0] is not (1 or 3))
            throw new ArgumentException(
                $"Image must be uint8 (C, H, W) with C = 1 or 3, got {image.dtype} ({string.Join(", ", image.shape)}).", nameof(image));
        using var interleaved = image.permute(1, 2, 0).contiguous().cpu();
        return Encode(interleaved.bytes, (int)image.shape[2], (int)image.shape[1], (int)image.shape[0], text);
    }

    /// <summary>The text chunks (tEXt, zTXt and iTXt) of a PNG, keyword to text; later duplicates win.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a readable PNG.</exception>
    public static IReadOnlyDictionary<string, string> ReadTextChunks(byte[] png)
    {
        ArgumentNullException.ThrowIfNull(png);
        IImageInfo? info;
        try
        {
            info = Image.Identify(png, out var format);
            if (info is not null && format is not PngFormat)
                throw new InvalidDataException($"The image is {format?.Name ?? "of an unknown format"}, not PNG.");
        }
        catch (Exception e) when (e is UnknownImageFormatException or InvalidImageContentException)
        {
            throw new InvalidDataException($"The bytes are not a readable PNG: {e.Message}", e);
        }
        if (info is null) throw new InvalidDataException("The bytes are not a readable PNG: no known image format.");
        var chunks = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in info.Metadata.GetPngMetadata().TextData) chunks[entry.Keyword] = entry.Value;
        return chunks;
    }

    private static void ValidateKeyword(string keyword)
    {
        bool valid = keyword.Length is >= 1 and <= 79
                     && keyword.All(c => c is >= ' ' and <= '~' or >= '\u00a1' and <= '\u00ff')
                     && keyword[0] != ' ' && keyword[^1] != ' ' && !keyword.Contains("  ", StringComparison.Ordinal);
        if (!valid)
            throw new ArgumentException(
                $"'{keyword}' is not a PNG text keyword (1 to 79 printable Latin-1 characters, no leading, trailing or double spaces).");
    }
}
