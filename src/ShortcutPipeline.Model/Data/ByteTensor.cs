using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Data;

internal static class ByteTensor
{
    /// <summary>A uint8 tensor of <paramref name="shape"/> holding a copy of <paramref name="data"/> (one block copy).</summary>
    public static Tensor From(byte[] data, params long[] shape)
    {
        var tensor = empty(shape, ScalarType.Byte);
        tensor.bytes = data;
        return tensor;
    }
}
