namespace ShortcutPipeline.Worker;

/// <summary>
/// A sampled batch as 8-bit pixels in managed memory, ready for PNG encoding on any thread: row-major
/// images, each <see cref="Height"/> x <see cref="Width"/> pixels of <see cref="Channels"/> interleaved bytes.
/// </summary>
public sealed class SampledImages
{
    private readonly byte[] pixels;

    internal SampledImages(byte[] pixels, int count, int channels, int height, int width, IReadOnlyList<bool> completed, int forwardPasses)
    {
        this.pixels = pixels;
        Count = count;
        Channels = channels;
        Height = height;
        Width = width;
        Completed = completed;
        ForwardPasses = forwardPasses;
    }

    /// <summary>The number of images (rows of the batch).</summary>
    public int Count { get; }

    /// <summary>1 (gray) or 3 (RGB).</summary>
    public int Channels { get; }

    /// <summary>Image height in pixels.</summary>
    public int Height { get; }

    /// <summary>Image width in pixels.</summary>
    public int Width { get; }

    /// <summary>Per row: false when the row was stopped before its last step (cancelled job, passed deadline).</summary>
    public IReadOnlyList<bool> Completed { get; }

    /// <summary>The sampler steps that ran (model forward passes over the batch).</summary>
    public int ForwardPasses { get; }

    /// <summary>The interleaved pixels of row <paramref name="row"/>.</summary>
    public ReadOnlyMemory<byte> PixelsOf(int row)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Count);
        int size = Channels * Height * Width;
        return pixels.AsMemory(row * size, size);
    }
}
