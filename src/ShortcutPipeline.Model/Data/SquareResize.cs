using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ShortcutPipeline.Model.Data;

/// <summary>
/// Resizes square uint8 image batches (N, C, S, S) to another side length: bilinear interpolation when
/// enlarging (e.g. Fashion-MNIST 28 to 32; half-pixel centres, no corner alignment), area averaging when
/// shrinking (each output pixel is the mean of the input pixels it covers, which avoids aliasing); at the same
/// size the input itself is returned. Results are rounded to the nearest byte.
/// </summary>
internal static class SquareResize
{
    /// <summary>Images per interpolation call, to bound the float32 working memory.</summary>
    private const int ChunkSize = 4096;

    public static Tensor To(Tensor images, int size)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), size, "Image size must be positive.");
        long current = images.shape[2];
        if (current == size) return images;
        var mode = size > current ? InterpolationMode.Bilinear : InterpolationMode.Area;
        bool? alignCorners = mode == InterpolationMode.Bilinear ? false : null;

        var chunks = new List<Tensor>();
        using var scope = NewDisposeScope();
        for (long start = 0; start < images.shape[0]; start += ChunkSize)
        {
            using var chunkScope = NewDisposeScope();
            var chunk = images.narrow(0, start, Math.Min(ChunkSize, images.shape[0] - start)).to(ScalarType.Float32);
            var resized = F.interpolate(chunk, size: [size, size], mode: mode, align_corners: alignCorners);
            chunks.Add(resized.round().clamp(0, 255).to(ScalarType.Byte).MoveToOuterDisposeScope());
        }
        return cat(chunks).MoveToOuterDisposeScope();
    }
}
