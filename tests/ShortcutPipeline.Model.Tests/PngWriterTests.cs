using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using ShortcutPipeline.Model.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Tests;

public sealed class PngWriterTests
{
    private static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public void GrayPixelsRoundTripExactly()
    {
        var pixels = RandomBytes(7 * 5, seed: 1);
        byte[] png = PngWriter.Encode(pixels, width: 7, height: 5, channels: 1);

        using var image = Image.Load<L8>(png, out var format);
        Assert.IsType<PngFormat>(format);
        Assert.Equal(PngColorType.Grayscale, image.Metadata.GetPngMetadata().ColorType);
        Assert.Equal((7, 5), (image.Width, image.Height));
        var decoded = new byte[pixels.Length];
        image.CopyPixelDataTo(decoded);
        Assert.Equal(pixels, decoded);
    }

    [Fact]
    public void RgbTensorInChannelsFirstLayoutRoundTripsExactly()
    {
        var generator = new Generator(2);
        using var chw = torch.randint(0, 256, [3, 4, 6], dtype: ScalarType.Byte, generator: generator);
        byte[] png = PngWriter.Encode(chw);

        using var image = Image.Load<Rgb24>(png);
        Assert.Equal(PngColorType.Rgb, image.Metadata.GetPngMetadata().ColorType);
        Assert.Equal((6, 4), (image.Width, image.Height));
        var decoded = new byte[4 * 6 * 3];
        image.CopyPixelDataTo(decoded);
        using var hwc = chw.permute(1, 2, 0).contiguous();
        Assert.Equal(hwc.bytes.ToArray(), decoded);
        // Spot check one pixel against the tensor directly: row 3, column 5.
        Assert.Equal(chw[1, 3, 5].item<byte>(), image[5, 3].G);
    }

    [Fact]
    public void TextChunksRoundTrip()
    {
        var text = new Dictionary<string, string>
        {
            ["job-id"] = "job-42",
            ["item-index"] = "7",
            ["seed"] = "123456789",
            ["steps"] = "4",
            ["class"] = "Ankle boot",
            ["model-version"] = "fashion-dit-s/2024-06-01T12:00:00Z",
            ["long"] = new string('x', 3000),        // over 1 KiB: written compressed (zTXt)
            ["label"] = "T-shirt/top – 日本語",       // not Latin-1: written as iTXt
        };
        byte[] png = PngWriter.Encode(new byte[] { 0, 128, 255, 64 }, width: 2, height: 2, channels: 1, text);

        var read = PngWriter.ReadTextChunks(png);
        Assert.Equal(text.OrderBy(p => p.Key), read.OrderBy(p => p.Key));
        Assert.Empty(PngWriter.ReadTextChunks(PngWriter.Encode(new byte[] { 1 }, 1, 1, 1)));
    }

    [Fact]
    public void InvalidInputIsRejectedWithClearErrors()
    {
        Assert.Throws<ArgumentException>(() => PngWriter.Encode(new byte[5], 2, 2, 1));
        Assert.Throws<ArgumentException>(() => PngWriter.Encode(new byte[8], 2, 2, 2));
        Assert.Throws<ArgumentException>(() => PngWriter.Encode(new byte[4], 2, 2, 1, new Dictionary<string, string> { [""] = "x" }));
        Assert.Throws<ArgumentException>(() => PngWriter.Encode(new byte[4], 2, 2, 1, new Dictionary<string, string> { [" seed"] = "x" }));
        Assert.Throws<ArgumentException>(() => PngWriter.Encode(new byte[4], 2, 2, 1, new Dictionary<string, string> { [new string('k', 80)] = "x" }));
        using var floats = torch.zeros(3, 2, 2);
        Assert.Throws<ArgumentException>(() => PngWriter.Encode(floats));
        using var hwc = torch.zeros([2, 2, 3], ScalarType.Byte);
        Assert.Throws<ArgumentException>(() => PngWriter.Encode(hwc));

        var error = Assert.Throws<InvalidDataException>(() => PngWriter.ReadTextChunks("not a png"u8.ToArray()));
        Assert.Contains("not a readable PNG", error.Message);
    }
}
