using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Imaging;

/// <summary>
/// Turns what the sampler produces (pixels, or latents of an autoencoder) into float images in [-1, 1],
/// shaped (B, C, H, W). <see cref="PixelDecoder"/> is the identity for pixel-space models; <see cref="VaeDecoder"/>
/// decodes Stable Diffusion latents. <see cref="PixelValues.ToBytes"/> then makes PNG-ready bytes.
/// </summary>
public interface IImageDecoder
{
    /// <summary>Decodes (B, C, h, w) samples into (B, C', H, W) float images in [-1, 1].</summary>
    Tensor Decode(Tensor samples);
}

/// <summary>Helpers over any <see cref="IImageDecoder"/>.</summary>
public static class ImageDecoderExtensions
{
    /// <summary>Decodes samples and converts them to uint8 images (B, C, H, W) on the CPU, ready for PNG.</summary>
    public static Tensor DecodeToBytes(this IImageDecoder decoder, Tensor samples)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        using var images = decoder.Decode(samples);
        return PixelValues.ToBytes(images);
    }
}

/// <summary>Picks the decoder a model's samples need.</summary>
public static class ImageDecoders
{
    /// <summary>
    /// Pixel-space models decode directly; latent-space models through the Stable Diffusion VAE decoder, whose
    /// diffusers-format weights <paramref name="vaePath"/> names.
    /// </summary>
    public static IImageDecoder For(DiTConfig config, string? vaePath = null, Device? device = null) => config.Space switch
    {
        "pixel" => PixelDecoder.Instance,
        "latent" when vaePath is not null => VaeDecoder.FromPretrained(vaePath, device),
        "latent" => throw new ArgumentException("This is a latent-space model: name the VAE decoder weights (diffusers safetensors, e.g. sd-vae-ft-mse)."),
        _ => throw new ArgumentException($"Unknown model space \"{config.Space}\"."),
    };
}

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
