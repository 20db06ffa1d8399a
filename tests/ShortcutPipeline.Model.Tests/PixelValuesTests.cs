using ShortcutPipeline.Model.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Tests;

public sealed class PixelValuesTests
{
    [Fact]
    public void ToBytesClampsScalesAndRoundsToNearest()
    {
        using var images = torch.tensor(new[] { -1f, 1f, 0f, -2f, 2f, float.NaN, 0.5f, -0.999f, 0.996f, float.PositiveInfinity });
        using var bytes = PixelValues.ToBytes(images);
        Assert.Equal(ScalarType.Byte, bytes.dtype);
        // 0 -> 127.5 rounds to the even 128; 0.5 -> 191.25; -0.999 -> 0.1275; 0.996 -> 254.49.
        Assert.Equal(new byte[] { 0, 255, 128, 0, 255, 0, 191, 0, 254, 255 }, bytes.data<byte>().ToArray());
    }

    [Fact]
    public void EveryByteRoundTripsThroughTheModelRange()
    {
        using var all = torch.arange(0, 256, dtype: ScalarType.Byte);
        using var model = PixelValues.ToModelRange(all);
        Assert.Equal(-1f, model[0].item<float>());
        Assert.Equal(1f, model[255].item<float>());
        using var back = PixelValues.ToBytes(model);
        TensorAssert.Equal(all, back);
    }

    [Fact]
    public void PixelDecoderClampsAndDecodeToBytesGivesCpuBytes()
    {
        using var samples = torch.tensor(new[] { -3f, -0.5f, 0.25f, 4f }, [1, 1, 2, 2], ScalarType.Float64);
        using var decoded = PixelDecoder.Instance.Decode(samples);
        Assert.Equal(ScalarType.Float32, decoded.dtype);
        Assert.Equal(new[] { -1f, -0.5f, 0.25f, 1f }, decoded.data<float>().ToArray());

        using var bytes = PixelDecoder.Instance.DecodeToBytes(samples);
        Assert.Equal(new long[] { 1, 1, 2, 2 }, bytes.shape);
        Assert.Equal(new byte[] { 0, 64, 159, 255 }, bytes.data<byte>().ToArray());

        using var flat = torch.zeros(4);
        Assert.Throws<ArgumentException>(() => PixelDecoder.Instance.Decode(flat));
        using var ints = torch.zeros([2], ScalarType.Int32);
        Assert.Throws<ArgumentException>(() => PixelValues.ToBytes(ints));
        Assert.Throws<ArgumentException>(() => PixelValues.ToModelRange(flat));
    }
}
