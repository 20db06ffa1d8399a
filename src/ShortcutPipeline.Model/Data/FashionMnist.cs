using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Data;

/// <summary>Which half of Fashion-MNIST: 60,000 training or 10,000 test images.</summary>
public enum FashionMnistSplit
{
    /// <summary>The 60,000 training images (train-*-ubyte).</summary>
    Train,

    /// <summary>The 10,000 test images (t10k-*-ubyte).</summary>
    Test,
}

/// <summary>
/// Loads Fashion-MNIST (Zalando; 28x28 grayscale clothing images in 10 classes) from its IDX files, gzipped
/// (<c>train-images-idx3-ubyte.gz</c>, ...) or plain (the same names without <c>.gz</c>).
/// </summary>
public static class FashionMnist
{
    /// <summary>Where the Debian package dataset-fashion-mnist installs the files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>Environment variable that overrides <see cref="DefaultDirectory"/>.</summary>
    public const string DirectoryVariable = "FASHION_MNIST_DIR";

    /// <summary>Side length of the images in the files.</summary>
    public const int NativeImageSize = 28;

    /// <summary>The class names, by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Bag", "Sneaker", "Ankle boot"];

    /// <summary>
    /// Loads a split as a 1-channel <see cref="ImageDataset"/> of <paramref name="imageSize"/> squared images:
    /// 28 keeps the files' pixels; larger sizes (32 for a DiT with patch size 2 or 4) are bilinear upsamples,
    /// smaller ones area averages (see <see cref="SquareResize"/>).
    /// </summary>
    /// <param name="directory">Folder with the IDX files; null means $FASHION_MNIST_DIR, else <see cref="DefaultDirectory"/>.</param>
    /// <param name="split">Training or test images.</param>
    /// <param name="imageSize">Side length of the returned images.</param>
    /// <param name="limit">Load only the first this many images (the files are in random class order).</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">An IDX file is missing (neither the .gz nor the plain name exists).</exception>
    /// <exception cref="InvalidDataException">A file is corrupt: bad magic number, truncated, non-square images,
    /// image and label counts differ, or a label outside 0..9. The message names the file.</exception>
    public static ImageDataset Load(string? directory, FashionMnistSplit split, int imageSize = NativeImageSize, int? limit = null)
    {
        if (imageSize < 1) throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, "Image size must be positive.");
        if (limit < 1) throw new ArgumentOutOfRangeException(nameof(limit), limit, "Limit must be positive.");
        string folder = ResolveDirectory(directory);
        string prefix = split == FashionMnistSplit.Train ? "train" : "t10k";
        string imagesPath = FindFile(folder, $"{prefix}-images-idx3-ubyte");
        string labelsPath = FindFile(folder, $"{prefix}-labels-idx1-ubyte");

        var images = IdxFile.Read(imagesPath, dimensions: 3, what: "images", limit);
        var labels = IdxFile.Read(labelsPath, dimensions: 1, what: "labels", limit);
        if (images.Dimensions[0] != labels.Dimensions[0])
            throw new InvalidDataException(
                $"{imagesPath} holds {images.Dimensions[0]} images but {labelsPath} holds {labels.Dimensions[0]} labels; they must match.");
        int rows = images.Dimensions[1], columns = images.Dimensions[2];
        if (rows != columns) throw new InvalidDataException($"{imagesPath} holds {rows}x{columns} images; square images are expected.");
        int badLabel = Array.FindIndex(labels.Data, label => label >= ClassNames.Count);
        if (badLabel >= 0)
            throw new InvalidDataException($"{labelsPath}: label {labels.Data[badLabel]} at index {badLabel} is outside 0..{ClassNames.Count - 1}.");

        using var scope = NewDisposeScope();
        var pixels = ByteTensor.From(images.Data, images.ItemsRead, 1, rows, columns);
        var labelTensor = tensor(labels.Data.Select(label => (long)label).ToArray(), [labels.ItemsRead], ScalarType.Int64);
        return new ImageDataset(SquareResize.To(pixels, imageSize), labelTensor, ClassNames);
    }

    /// <summary>The folder <see cref="Load"/> reads: <paramref name="directory"/>, else $FASHION_MNIST_DIR, else the default.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    public static string ResolveDirectory(string? directory)
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable(DirectoryVariable);
        string folder = !string.IsNullOrWhiteSpace(directory) ? directory
            : !string.IsNullOrWhiteSpace(fromEnvironment) ? fromEnvironment
            : DefaultDirectory;
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException(
                $"Fashion-MNIST folder {folder} does not exist. Install the dataset-fashion-mnist package (files in {DefaultDirectory}), " +
                $"or pass a folder holding train-images-idx3-ubyte.gz and the other IDX files (or set {DirectoryVariable}).");
        return folder;
    }

    private static string FindFile(string folder, string name)
    {
        string gzipped = Path.Combine(folder, name + ".gz"), plain = Path.Combine(folder, name);
        if (File.Exists(gzipped)) return gzipped;
        if (File.Exists(plain)) return plain;
        throw new FileNotFoundException($"Fashion-MNIST file {gzipped} (or {plain}) does not exist.", gzipped);
    }
}
