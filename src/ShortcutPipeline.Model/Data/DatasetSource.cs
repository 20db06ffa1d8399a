namespace ShortcutPipeline.Model.Data;

/// <summary>
/// Opens a dataset named on a command line or in a training request:
/// "fashion-mnist" (Debian's dataset-fashion-mnist, or $FASHION_MNIST_DIR), "fashion-mnist:/path/to/idx-files",
/// or a folder: IDX files in Fashion-MNIST's names, else an image folder with one sub-folder per class.
/// </summary>
public static class DatasetSource
{
    public const string FashionMnistName = "fashion-mnist";

    public static async Task<ImageDataset> OpenAsync(string spec, int imageSize, int channels, FashionMnistSplit split = FashionMnistSplit.Train,
        int? limit = null, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(spec)) throw new ArgumentException("No dataset was named: use \"fashion-mnist\" or a folder.");
        string? idxDirectory = null;
        if (spec == FashionMnistName) idxDirectory = FashionMnist.ResolveDirectory(null);
        else if (spec.StartsWith(FashionMnistName + ":", StringComparison.Ordinal)) idxDirectory = spec[(FashionMnistName.Length + 1)..];
        else if (!Directory.Exists(spec)) throw new DirectoryNotFoundException($"Dataset folder {spec} does not exist (or use \"fashion-mnist\").");
        else if (Directory.EnumerateFiles(spec, "*-images-idx3-ubyte*").Any()) idxDirectory = spec;

        if (idxDirectory is not null)
        {
            if (channels != 1) throw new ArgumentException($"Fashion-MNIST is grayscale: the model must have 1 input channel, not {channels}.");
            return FashionMnist.Load(idxDirectory, split, imageSize, limit);
        }
        return await ImageFolder.LoadAsync(spec, imageSize, channels, limit, cancellationToken);
    }
}
