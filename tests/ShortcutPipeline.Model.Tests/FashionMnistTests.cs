using System.Buffers.Binary;
using System.IO.Compression;
using ShortcutPipeline.Model.Data;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Model.Tests;

/// <summary>
/// Reads the real Fashion-MNIST files (dataset-fashion-mnist, or $FASHION_MNIST_DIR) and hand-made IDX files.
/// One class on purpose: one test changes the environment variable, so these must not run in parallel.
/// </summary>
public sealed class FashionMnistTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    [Fact]
    public void TrainingSplitHas60000ImagesOf6000PerClassWithTheKnownMeanPixel()
    {
        using var train = FashionMnist.Load(null, FashionMnistSplit.Train);
        Assert.Equal(60000, train.Count);
        Assert.Equal(new long[] { 60000, 1, 28, 28 }, train.Images.shape);
        Assert.Equal((1, 28, 10), (train.Channels, train.ImageSize, train.NumClasses));
        using var histogram = train.Labels.bincount(null);
        Assert.All(histogram.data<long>().ToArray(), count => Assert.Equal(6000, count));
        // The files' first labels: Ankle boot, T-shirt/top, T-shirt/top, Dress, T-shirt/top, Pullover, ...
        Assert.Equal(new long[] { 9, 0, 0, 3, 0, 2, 7, 2, 5, 5 }, train.Labels[..10].data<long>().ToArray());
        using var min = train.Images.min();
        using var max = train.Images.max();
        Assert.Equal((0, 255), (min.item<byte>(), max.item<byte>()));
        // Fashion-MNIST's well-known training mean is 0.2860 of full scale, i.e. 72.94 of 255.
        long total = 0;
        foreach (byte pixel in train.Images.bytes) total += pixel;
        Assert.InRange(total / (double)train.Images.numel(), 72.8, 73.1);
        Assert.Equal("Ankle boot", train.ClassNames[9]);
        Assert.Equal("T-shirt/top", train.ClassNames[0]);
    }

    [Fact]
    public void TestSplitHas10000ImagesOf1000PerClass()
    {
        using var test = FashionMnist.Load(FashionMnist.ResolveDirectory(null), FashionMnistSplit.Test);
        Assert.Equal(10000, test.Count);
        using var histogram = test.Labels.bincount(null);
        Assert.All(histogram.data<long>().ToArray(), count => Assert.Equal(1000, count));
        Assert.Equal(new long[] { 9, 2, 1, 1, 6, 1, 4, 6, 5, 7 }, test.Labels[..10].data<long>().ToArray());
    }

    [Fact]
    public void ImagesAreUpsampledBilinearlyAndDownsampledByAreaAveraging()
    {
        using var native = FashionMnist.Load(null, FashionMnistSplit.Test, limit: 64);
        using var large = FashionMnist.Load(null, FashionMnistSplit.Test, imageSize: 32, limit: 64);
        using var small = FashionMnist.Load(null, FashionMnistSplit.Test, imageSize: 14, limit: 64);
        Assert.Equal(new long[] { 64, 1, 32, 32 }, large.Images.shape);
        Assert.Equal(new long[] { 64, 1, 14, 14 }, small.Images.shape);
        TensorAssert.Equal(native.Labels, large.Labels);

        using var scope = torch.NewDisposeScope();
        var pixels = native.Images.to(ScalarType.Float32);
        // 28 -> 14 is exactly a 2x2 average per output pixel.
        var averaged = F.avg_pool2d(pixels, 2).round().to(ScalarType.Byte);
        TensorAssert.Equal(averaged, small.Images);
        var bilinear = F.interpolate(pixels, size: [32, 32], mode: InterpolationMode.Bilinear, align_corners: false)
            .round().clamp(0, 255).to(ScalarType.Byte);
        TensorAssert.Equal(bilinear, large.Images);
        Assert.InRange((large.Images.to(ScalarType.Float64).mean() - pixels.mean()).abs().item<double>(), 0, 1.0);
    }

    [Fact]
    public void GzippedAndPlainFilesLoadTheSameAndTheEnvironmentVariableChoosesTheFolder()
    {
        var (images, labels) = SmallIdx(count: 3);
        string gz = Path.Combine(temp.Path, "gz"), plain = Path.Combine(temp.Path, "plain");
        WriteSplit(gz, "t10k", images, labels, gzip: true);
        WriteSplit(plain, "t10k", images, labels, gzip: false);

        using var fromGz = FashionMnist.Load(gz, FashionMnistSplit.Test);
        using var fromPlain = FashionMnist.Load(plain, FashionMnistSplit.Test);
        TensorAssert.Equal(fromGz.Images, fromPlain.Images);
        TensorAssert.Equal(fromGz.Labels, fromPlain.Labels);
        Assert.Equal(new long[] { 0, 4, 9 }, fromGz.Labels.data<long>().ToArray());
        Assert.Equal(images[16..(16 + 28 * 28)], fromGz.Images[0].flatten().data<byte>().ToArray());

        string? previous = Environment.GetEnvironmentVariable(FashionMnist.DirectoryVariable);
        try
        {
            Environment.SetEnvironmentVariable(FashionMnist.DirectoryVariable, plain);
            Assert.Equal(plain, FashionMnist.ResolveDirectory(null));
            using var fromEnvironment = FashionMnist.Load(null, FashionMnistSplit.Test, limit: 2);
            Assert.Equal(2, fromEnvironment.Count);
        }
        finally
        {
            Environment.SetEnvironmentVariable(FashionMnist.DirectoryVariable, previous);
        }
    }

    [Fact]
    public void ABadMagicNumberNamesTheFile()
    {
        var (images, labels) = SmallIdx(count: 2);
        BinaryPrimitives.WriteInt32BigEndian(images, 0x00000801);
        WriteSplit(temp.Path, "train", images, labels, gzip: true);
        var error = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(temp.Path, FashionMnistSplit.Train));
        Assert.Contains("train-images-idx3-ubyte.gz", error.Message);
        Assert.Contains("magic number is 0x00000801, expected 0x00000803", error.Message);
    }

    [Fact]
    public void ATruncatedFileIsReportedGzippedOrPlain()
    {
        var (images, labels) = SmallIdx(count: 3);
        WriteSplit(temp.Path, "train", images[..(images.Length - 100)], labels, gzip: false);
        var plainError = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(temp.Path, FashionMnistSplit.Train));
        Assert.Contains("train-images-idx3-ubyte is truncated", plainError.Message);

        WriteSplit(temp.Path, "t10k", images, labels[..6], gzip: true);
        var gzError = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(temp.Path, FashionMnistSplit.Test));
        Assert.Contains("t10k-labels-idx1-ubyte.gz is truncated", gzError.Message);
    }

    [Fact]
    public void CorruptGzipDataNamesTheFile()
    {
        var (images, labels) = SmallIdx(count: 2);
        WriteSplit(temp.Path, "train", images, labels, gzip: false);
        string path = Path.Combine(temp.Path, "train-images-idx3-ubyte.gz");
        File.WriteAllBytes(path, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0x00]);
        var error = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(temp.Path, FashionMnistSplit.Train));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void ImageAndLabelCountsMustMatch()
    {
        var (images, _) = SmallIdx(count: 3);
        var (_, labels) = SmallIdx(count: 2);
        WriteSplit(temp.Path, "train", images, labels, gzip: true);
        var error = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(temp.Path, FashionMnistSplit.Train, limit: 1));
        Assert.Contains("holds 3 images but", error.Message);
        Assert.Contains("holds 2 labels", error.Message);
    }

    [Fact]
    public void LabelsOutside0To9AreRejected()
    {
        var (images, labels) = SmallIdx(count: 3);
        labels[9] = 10;
        WriteSplit(temp.Path, "train", images, labels, gzip: false);
        var error = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(temp.Path, FashionMnistSplit.Train));
        Assert.Contains("label 10 at index 1 is outside 0..9", error.Message);
    }

    [Fact]
    public void MissingFilesAndFoldersAreReportedWithWhatToDo()
    {
        var (images, labels) = SmallIdx(count: 2);
        WriteSplit(temp.Path, "train", images, labels, gzip: true);
        File.Delete(Path.Combine(temp.Path, "train-labels-idx1-ubyte.gz"));
        var missingFile = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(temp.Path, FashionMnistSplit.Train));
        Assert.Contains("train-labels-idx1-ubyte.gz", missingFile.Message);

        var missingFolder = Assert.Throws<DirectoryNotFoundException>(
            () => FashionMnist.Load(Path.Combine(temp.Path, "absent"), FashionMnistSplit.Train));
        Assert.Contains("dataset-fashion-mnist", missingFolder.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => FashionMnist.Load(temp.Path, FashionMnistSplit.Train, limit: 0));
    }

    /// <summary>IDX bytes of <paramref name="count"/> 28x28 images with a pixel pattern, and labels 0, 4, 8+1, ...</summary>
    private static (byte[] Images, byte[] Labels) SmallIdx(int count)
    {
        var images = new byte[16 + count * 28 * 28];
        BinaryPrimitives.WriteInt32BigEndian(images, 0x00000803);
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(8), 28);
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(12), 28);
        for (int i = 16; i < images.Length; i++) images[i] = (byte)(i * 7);
        var labels = new byte[8 + count];
        BinaryPrimitives.WriteInt32BigEndian(labels, 0x00000801);
        BinaryPrimitives.WriteInt32BigEndian(labels.AsSpan(4), count);
        for (int i = 0; i < count; i++) labels[8 + i] = (byte)Math.Min(9, i * 4 + (i == 2 ? 1 : 0));
        return (images, labels);
    }

    private static void WriteSplit(string folder, string prefix, byte[] images, byte[] labels, bool gzip)
    {
        Directory.CreateDirectory(folder);
        Write(Path.Combine(folder, $"{prefix}-images-idx3-ubyte"), images, gzip);
        Write(Path.Combine(folder, $"{prefix}-labels-idx1-ubyte"), labels, gzip);
    }

    private static void Write(string path, byte[] data, bool gzip)
    {
        if (!gzip)
        {
            File.WriteAllBytes(path, data);
            return;
        }
        using var file = File.Create(path + ".gz");
        using var compressed = new GZipStream(file, CompressionLevel.Fastest);
        compressed.Write(data);
    }
}
