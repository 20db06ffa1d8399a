using SixLabors.ImageSharp;
using ShortcutPipeline.Model.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Tests;

public sealed class ImageGridTests
{
    /// <summary>Five 1-channel 4x3 images; image k is filled with the value 10 * (k + 1).</summary>
    private static Tensor FiveImages() =>
        torch.arange(1, 6, dtype: ScalarType.Byte).mul(10).view(5, 1, 1, 1).expand(5, 1, 4, 3).contiguous();

    [Fact]
    public void TilesRowByRowWithPaddingAroundAndBetween()
    {
        using var images = FiveImages();
        using var sheet = ImageGrid.Tile(images, padding: 2, background: 255);

        // ceil(sqrt(5)) = 3 columns, 2 rows: height 2*(4+2)+2, width 3*(3+2)+2.
        Assert.Equal(new long[] { 1, 14, 17 }, sheet.shape);
        for (int k = 0; k < 5; k++)
        {
            int top = 2 + (k / 3) * 6, left = 2 + (k % 3) * 5;
            using var tile = sheet[.., top..(top + 4), left..(left + 3)];
            using var low = tile.min();
            using var high = tile.max();
            Assert.Equal((10 * (k + 1), 10 * (k + 1)), (low.item<byte>(), high.item<byte>()));
        }
        // Padding and the empty sixth cell are background.
        Assert.Equal(255, sheet[0, 0, 0].item<byte>());
        Assert.Equal(255, sheet[0, 1, 16].item<byte>());
        Assert.Equal(255, sheet[0, 13, 5].item<byte>());
        using var emptyCell = sheet[.., 8..12, 12..15];
        Assert.Equal(255, emptyCell.min().item<byte>());
    }

    [Fact]
    public void ColumnsCanBeChosenAndTheSheetEncodesAsPng()
    {
        using var images = FiveImages();
        using var row = ImageGrid.Tile(images, columns: 5, padding: 0);
        Assert.Equal(new long[] { 1, 4, 15 }, row.shape);

        byte[] png = ImageGrid.EncodePng(images, columns: 2, padding: 1,
            text: new Dictionary<string, string> { ["job-id"] = "sheet" });
        var info = Image.Identify(png);
        // 2 columns and 3 rows of 4x3 tiles with 1 pixel of padding.
        Assert.Equal((3 * (4 + 1) + 1, 2 * (3 + 1) + 1), (info.Height, info.Width));
        Assert.Equal("sheet", PngWriter.ReadTextChunks(png)["job-id"]);

        using var floats = torch.zeros(2, 1, 4, 4);
        Assert.Throws<ArgumentException>(() => ImageGrid.Tile(floats));
    }
}
