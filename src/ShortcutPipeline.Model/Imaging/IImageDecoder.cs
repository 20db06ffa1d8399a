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
