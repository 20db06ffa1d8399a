using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Imaging;

/// <summary>
/// The decoder of a pixel-space model: the samples already are images, so it only checks the shape and clamps
/// to [-1, 1] (float32, same device).
/// </summary>
public sealed class PixelDecoder : IImageDecoder
{
    /// <summary>The one instance; the decoder holds no state.</summary>
    public static PixelDecoder Instance { get; } = new();

    /// <inheritdoc />
    public Tensor Decode(Tensor samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (samples.dim() != 4)
            throw new ArgumentException($"Samples must be (B, C, H, W), got ({string.Join(", ", samples.shape)}).", nameof(samples));
        using var scope = NewDisposeScope();
        return samples.to(ScalarType.Float32).clamp(-1, 1).MoveToOuterDisposeScope();
    }
}
