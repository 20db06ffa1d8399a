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
