using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ShortcutPipeline.Model.Imaging;

/// <summary>
/// A contact sheet: tiles N images row by row into one image, with <c>padding</c> pixels of background around
/// and between the tiles (like torchvision's make_grid). Unused cells of the last row stay background.
/// </summary>
public static class ImageGrid
{
    /// <summary>Tiles uint8 images (N, C, H, W) into one uint8 image (C, rows*(H+p)+p, columns*(W+p)+p) on the CPU.</summary>
    /// <param name="images">The images, uint8 (N, C, H, W).</param>
    /// <param name="columns">Tiles per row; by default ceil(sqrt(N)), so the sheet is about square.</param>
    /// <param name="padding">Background pixels around and between tiles.</param>
    /// <param name="background">The background gray level.</param>
    public static Tensor Tile(Tensor images, int? columns = null, int padding = 2, byte background = 0)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.dtype != ScalarType.Byte || images.dim() != 4 || images.shape[0] == 0)
            throw new ArgumentException(
                $"Images must be a non-empty uint8 (N, C, H, W) batch, got {images.dtype} ({string.Join(", ", images.shape)}).", nameof(images));
        if (padding < 0) throw new ArgumentOutOfRangeException(nameof(padding), padding, "Padding cannot be negative.");
        int count = (int)images.shape[0];
        int cols = columns ?? (int)Math.Ceiling(Math.Sqrt(count));
        if (cols < 1) throw new ArgumentOutOfRangeException(nameof(columns), columns, "Columns must be positive.");
        cols = Math.Min(cols, count);
        int rows = (count + cols - 1) / cols;
        long channels = images.shape[1], height = images.shape[2], width = images.shape[3];

        using var scope = NewDisposeScope();
        var cells = images.cpu();
        if (rows * cols > count)
        {
            var blank = full([rows * cols - count, channels, height, width], background, ScalarType.Byte);
            cells = cat([cells, blank]);
        }
        // Pad every tile on its bottom and right, lay the tiles out, then pad the sheet on its top and left.
        var padded = F.pad(cells, [0, padding, 0, padding], value: background);
        long tileHeight = height + padding, tileWidth = width + padding;
        var sheet = padded.view(rows, cols, channels, tileHeight, tileWidth)
            .permute(2, 0, 3, 1, 4)
            .reshape(channels, rows * tileHeight, cols * tileWidth);
        return F.pad(sheet.unsqueeze(0), [padding, 0, padding, 0], value: background).squeeze(0).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Tiles the images (see <see cref="Tile"/>) and encodes the sheet as PNG, enlarged <paramref name="scale"/> times
    /// (each pixel a scale x scale block) for viewing small images.
    /// </summary>
    public static byte[] EncodePng(Tensor images, int? columns = null, int padding = 2, byte background = 0,
        IReadOnlyDictionary<string, string>? text = null, int scale = 1)
    {
        if (scale < 1) throw new ArgumentOutOfRangeException(nameof(scale), scale, "Scale must be at least 1.");
        using var scope = NewDisposeScope();
        var sheet = Tile(images, columns, padding, background);
        if (scale > 1) sheet = sheet.repeat_interleave(scale, dim: 1).repeat_interleave(scale, dim: 2);
        return PngWriter.Encode(sheet, text);
    }

    /// <summary>The whole-number enlargement that shows tiles of <paramref name="tileSize"/> pixels at about 112 pixels.</summary>
    public static int ViewingScale(long tileSize) => (int)Math.Max(1, 112 / Math.Max(1, tileSize));
}
