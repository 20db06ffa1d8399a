using ShortcutPipeline.Model.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Tests;

public sealed class ImageDatasetTests
{
    private static readonly string[] Classes = ["zero", "one", "two"];

    /// <summary>Four 1x2x2 images with pixels 0, 255, 10*i, 20*i and labels 0, 1, 2, 1.</summary>
    private static ImageDataset Small()
    {
        var pixels = new byte[4 * 4];
        for (int i = 0; i < 4; i++)
        {
            pixels[4 * i] = 0;
            pixels[4 * i + 1] = 255;
            pixels[4 * i + 2] = (byte)(10 * i);
            pixels[4 * i + 3] = (byte)(20 * i);
        }
        return new ImageDataset(torch.tensor(pixels, [4, 1, 2, 2]), torch.tensor(new long[] { 0, 1, 2, 1 }), Classes);
    }

    [Fact]
    public void ModelInputIsTheSelectedImagesInMinusOneToOne()
    {
        using var dataset = Small();
        Assert.Equal((4, 1, 2, 3), (dataset.Count, dataset.Channels, dataset.ImageSize, dataset.NumClasses));
        using var indices = torch.tensor(new long[] { 3, 1 });
        using var batch = dataset.ToModelInput(indices, CPU);
        Assert.Equal(new long[] { 2, 1, 2, 2 }, batch.shape);
        Assert.Equal(ScalarType.Float32, batch.dtype);
        Assert.Equal(new[] { -1f, 1f, 30 / 127.5f - 1, 60 / 127.5f - 1, -1f, 1f, 10 / 127.5f - 1, 20 / 127.5f - 1 },
            batch.data<float>().ToArray());
        using var labels = dataset.LabelsAt(indices);
        Assert.Equal(new long[] { 1, 1 }, labels.data<long>().ToArray());

        using var outOfRange = torch.tensor(new long[] { 4 });
        Assert.Throws<ArgumentOutOfRangeException>(() => dataset.ToModelInput(outOfRange));
    }

    [Fact]
    public void SubsetCopiesTheFirstItemsAndOutlivesTheOriginal()
    {
        ImageDataset subset;
        using (var dataset = Small()) subset = dataset.Subset(2);
        using (subset)
        {
            Assert.Equal(2, subset.Count);
            Assert.Equal(new long[] { 0, 1 }, subset.Labels.data<long>().ToArray());
            Assert.Equal(10, subset.Images[1, 0, 1, 0].item<byte>());
            Assert.Equal(Classes, subset.ClassNames);
        }
        using var again = Small();
        Assert.Throws<ArgumentOutOfRangeException>(() => again.Subset(5));
    }

    [Fact]
    public void TheDatasetOwnsItsTensorsEvenWhenMadeInsideADisposeScope()
    {
        ImageDataset dataset;
        using (torch.NewDisposeScope()) dataset = Small();
        using (dataset)
        {
            Assert.Equal(255, dataset.Images[2, 0, 0, 1].item<byte>());
        }
    }

    [Fact]
    public void InconsistentTensorsAreRejected()
    {
        using var images = torch.zeros([2, 1, 4, 4], ScalarType.Byte);
        using var floats = torch.zeros([2, 1, 4, 4]);
        using var wide = torch.zeros([2, 1, 4, 5], ScalarType.Byte);
        using var labels = torch.tensor(new long[] { 0, 1 });
        using var badLabels = torch.tensor(new long[] { 0, 3 });
        using var intLabels = torch.tensor(new[] { 0, 1 });
        Assert.Throws<ArgumentException>(() => new ImageDataset(floats, labels, Classes));
        Assert.Throws<ArgumentException>(() => new ImageDataset(wide, labels, Classes));
        Assert.Throws<ArgumentException>(() => new ImageDataset(images, badLabels, Classes));
        Assert.Throws<ArgumentException>(() => new ImageDataset(images, intLabels, Classes));
    }
}
