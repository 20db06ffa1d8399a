using ShortcutPipeline.Model.Imaging;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Data;

/// <summary>
/// A labelled image dataset held in memory on the CPU: uint8 images (N, C, S, S) and int64 labels (N).
/// The dataset owns both tensors (whatever dispose scope they were made in) and frees them on <see cref="Dispose"/>.
/// </summary>
public sealed class ImageDataset : IDisposable
{
    /// <summary>Takes ownership of <paramref name="images"/> and <paramref name="labels"/> after checking them.</summary>
    /// <exception cref="ArgumentException">Wrong dtypes or shapes, non-square images, 0 or more than 4 channels,
    /// a count mismatch, or a label outside 0..classNames.Count-1.</exception>
    public ImageDataset(Tensor images, Tensor labels, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classNames);
        if (images.dtype != ScalarType.Byte || images.dim() != 4 || images.shape[2] != images.shape[3]
            || images.shape[1] is < 1 or > 4 || images.shape[0] < 1)
        {
            throw new ArgumentException(
                $"Images must be a non-empty uint8 (N, C, S, S) tensor, got {images.dtype} ({string.Join(", ", images.shape)}).", nameof(images));
        }
        if (labels.dtype != ScalarType.Int64 || labels.dim() != 1 || labels.shape[0] != images.shape[0])
            throw new ArgumentException(
                $"Labels must be int64 (N) with N = {images.shape[0]}, got {labels.dtype} ({string.Join(", ", labels.shape)}).", nameof(labels));
        if (classNames.Count < 1) throw new ArgumentException("At least one class name is needed.", nameof(classNames));
        using (NewDisposeScope())
        {
            long minLabel = labels.min().item<long>(), maxLabel = labels.max().item<long>();
            if (minLabel < 0 || maxLabel >= classNames.Count)
                throw new ArgumentException(
                    $"Labels must lie in 0..{classNames.Count - 1} (one per class name), found {minLabel}..{maxLabel}.", nameof(labels));
        }

        Images = TakeOwnership(images);
        Labels = TakeOwnership(labels);
        ClassNames = classNames.ToArray();
    }

    /// <summary>uint8 images (N, C, S, S) on the CPU.</summary>
    public Tensor Images { get; }

    /// <summary>int64 class indices (N) on the CPU.</summary>
    public Tensor Labels { get; }

    /// <summary>Class names; a label is an index into this list.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Number of images.</summary>
    public int Count => (int)Images.shape[0];

    /// <summary>Channels per image (1 gray, 3 RGB).</summary>
    public int Channels => (int)Images.shape[1];

    /// <summary>Side length of the square images.</summary>
    public int ImageSize => (int)Images.shape[2];

    /// <summary>Number of classes.</summary>
    public int NumClasses => ClassNames.Count;

    /// <summary>The images at <paramref name="indices"/> (int64, any device) as float32 (B, C, S, S) in [-1, 1] on <paramref name="device"/>.</summary>
    public Tensor ToModelInput(Tensor indices, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var pixels = Images.index_select(0, CheckedIndices(indices)).to(device ?? CPU);
        return PixelValues.ToModelRange(pixels).MoveToOuterDisposeScope();
    }

    /// <summary>The labels at <paramref name="indices"/> as int64 (B) on <paramref name="device"/>.</summary>
    public Tensor LabelsAt(Tensor indices, Device? device = null)
    {
        using var scope = NewDisposeScope();
        return Labels.index_select(0, CheckedIndices(indices)).to(device ?? CPU).MoveToOuterDisposeScope();
    }

    /// <summary>A new dataset with copies of the first <paramref name="count"/> images and labels.</summary>
    public ImageDataset Subset(int count)
    {
        if (count < 1 || count > Count)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"A subset holds 1..{Count} images.");
        using var scope = NewDisposeScope();
        return new ImageDataset(Images.narrow(0, 0, count).clone(), Labels.narrow(0, 0, count).clone(), ClassNames);
    }

    /// <summary>Frees the image and label tensors.</summary>
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }

    /// <summary>A contiguous CPU tensor outside any dispose scope; the given wrapper is disposed if a new one was made.</summary>
    private static Tensor TakeOwnership(Tensor tensor)
    {
        using var scope = NewDisposeScope();
        var owned = tensor.cpu().contiguous().DetachFromDisposeScope();
        if (!ReferenceEquals(owned, tensor)) tensor.Dispose();
        return owned;
    }

    private Tensor CheckedIndices(Tensor indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        if (indices.dtype != ScalarType.Int64 || indices.dim() != 1)
            throw new ArgumentException($"Indices must be int64 (B), got {indices.dtype} ({string.Join(", ", indices.shape)}).", nameof(indices));
        var cpuIndices = indices.cpu();
        if (cpuIndices.numel() > 0 && (cpuIndices.min().item<long>() < 0 || cpuIndices.max().item<long>() >= Count))
            throw new ArgumentOutOfRangeException(nameof(indices), $"Indices must lie in 0..{Count - 1}.");
        return cpuIndices;
    }
}
