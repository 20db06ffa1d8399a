using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Imaging;

/// <summary>
/// The one mapping between stored pixels (uint8 0..255) and model values (float in [-1, 1]):
/// <c>x = p / 127.5 - 1</c> and back <c>p = round((clamp(x, -1, 1) + 1) * 127.5)</c>, which round-trips every byte.
/// </summary>
public static class PixelValues
{
    /// <summary>uint8 pixels (any shape) to float32 in [-1, 1], on the pixels' device.</summary>
    public static Tensor ToModelRange(Tensor pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.dtype != ScalarType.Byte)
            throw new ArgumentException($"Pixels must be uint8, got {pixels.dtype}.", nameof(pixels));
        using var scope = NewDisposeScope();
        return (pixels.to(ScalarType.Float32) / 127.5f - 1f).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Float images in [-1, 1] (any shape, any device) to uint8 on the CPU: values outside [-1, 1] are clamped,
    /// NaN becomes 0, and rounding is to the nearest integer (ties to even).
    /// </summary>
    public static Tensor ToBytes(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (!images.is_floating_point())
            throw new ArgumentException($"Images must be floating point in [-1, 1], got {images.dtype}.", nameof(images));
        using var scope = NewDisposeScope();
        var scaled = (images.to(ScalarType.Float32).nan_to_num(-1f).clamp(-1, 1) + 1f) * 127.5f;
        return scaled.round().to(ScalarType.Byte).cpu().MoveToOuterDisposeScope();
    }
}
