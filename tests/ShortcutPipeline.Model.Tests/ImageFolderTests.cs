using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using ShortcutPipeline.Model.Data;
using static TorchSharp.torch;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Model.Tests;

public sealed class ImageFolderTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    private string Root => temp.Path;

    /// <summary>An 8x8 RGB image whose pixel (x, y) is (seed + x * 30, y * 30, 255 - x - y).</summary>
    private static Image<Rgb24> Pattern(int seed)
    {
        var image = new Image<Rgb24>(8, 8);
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++)
                image[x, y] = new Rgb24((byte)(seed + x * 30), (byte)(y * 30), (byte)(255 - x - y));
        return image;
    }

    private static Image<Rgb24> Solid(int width, int height, Rgb24 color)
    {
        var image = new Image<Rgb24>(width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                image[x, y] = color;
        return image;
    }

    [Fact]
    public async Task SortedSubFoldersAreClassesAndPngPixelsArriveExactlyInChannelsFirstLayout()
    {
        using (var first = Pattern(seed: 1)) await first.SaveAsPngAsync(temp.File("shirt/b.png"));
        using (var second = Pattern(seed: 2)) await second.SaveAsPngAsync(temp.File("shirt/a.PNG"));
        using (var third = Pattern(seed: 3)) await third.SaveAsPngAsync(temp.File("boot/only.png"));
        File.WriteAllText(temp.File("boot/notes.txt"), "not an image");
        File.WriteAllText(temp.File(".hidden/ignored.png"), "hidden folders are skipped");

        using var dataset = await ImageFolder.LoadAsync(Root, imageSize: 8, channels: 3);
        Assert.Equal(["boot", "shirt"], dataset.ClassNames);
        Assert.Equal(new long[] { 3, 3, 8, 8 }, dataset.Images.shape);
        Assert.Equal(new long[] { 0, 1, 1 }, dataset.Labels.data<long>().ToArray());

        // Files in name order: boot/only (seed 3), shirt/a (seed 2), shirt/b (seed 1).
        using var expected = Pattern(seed: 2);
        for (int y = 0; y < 8; y++)
        {
            for (int x = 0; x < 8; x++)
            {
                var pixel = expected[x, y];
                Assert.Equal(pixel.R, dataset.Images[1, 0, y, x].item<byte>());
                Assert.Equal(pixel.G, dataset.Images[1, 1, y, x].item<byte>());
                Assert.Equal(pixel.B, dataset.Images[1, 2, y, x].item<byte>());
            }
        }
    }

    [Fact]
    public async Task ImagesAreCenterCroppedSquareResizedAndConvertedToGray()
    {
        // 24x16: 4 red columns, 16 gray (100) columns, 4 blue columns; the center square is all gray.
        using (var image = Solid(24, 16, new Rgb24(100, 100, 100)))
        {
            for (int y = 0; y < 16; y++)
            {
                for (int x = 0; x < 4; x++)
                {
                    image[x, y] = new Rgb24(255, 0, 0);
                    image[23 - x, y] = new Rgb24(0, 0, 255);
                }
            }
            await image.SaveAsPngAsync(temp.File("wide/image.png"));
        }
        using (var jpeg = Solid(10, 10, new Rgb24(200, 200, 200))) await jpeg.SaveAsJpegAsync(temp.File("photo/image.jpg"));

        using var gray = await ImageFolder.LoadAsync(Root, imageSize: 4, channels: 1);
        Assert.Equal(new long[] { 2, 1, 4, 4 }, gray.Images.shape);
        Assert.Equal(["photo", "wide"], gray.ClassNames);
        using var jpegPixels = gray.Images[0];
        Assert.All(jpegPixels.data<byte>().ToArray(), value => Assert.InRange(value, 197, 203));
        using var croppedPixels = gray.Images[1];
        Assert.All(croppedPixels.data<byte>().ToArray(), value => Assert.Equal(100, value));
    }

    [Fact]
    public async Task MaxImagesPerClassKeepsTheFirstFilesByName()
    {
        for (int i = 0; i < 3; i++)
        {
            using var image = Solid(4, 4, new Rgb24((byte)(i * 50), 0, 0));
            await image.SaveAsPngAsync(temp.File($"red/{i}.png"));
        }
        using var dataset = await ImageFolder.LoadAsync(Root, imageSize: 4, channels: 3, maxImagesPerClass: 2);
        Assert.Equal(2, dataset.Count);
        Assert.Equal(50, dataset.Images[1, 0, 0, 0].item<byte>());
    }

    [Fact]
    public async Task ACorruptImageIsAnErrorNamingTheFile()
    {
        using (var image = Pattern(seed: 0)) await image.SaveAsPngAsync(temp.File("good/fine.png"));
        string corrupt = temp.File("good/broken.png");
        byte[] png = File.ReadAllBytes(temp.File("good/fine.png"));
        File.WriteAllBytes(corrupt, png[..40]);
        var truncated = await Assert.ThrowsAsync<InvalidDataException>(() => ImageFolder.LoadAsync(Root, 8, 3));
        Assert.Contains(corrupt, truncated.Message);

        File.WriteAllText(corrupt, "plain text with a .png name");
        var garbage = await Assert.ThrowsAsync<InvalidDataException>(() => ImageFolder.LoadAsync(Root, 8, 3));
        Assert.Contains(corrupt, garbage.Message);
    }

    [Fact]
    public async Task EmptyLayoutsAreErrorsThatSayWhatIsMissing()
    {
        var noClasses = await Assert.ThrowsAsync<InvalidDataException>(() => ImageFolder.LoadAsync(Root, 8, 1));
        Assert.Contains("no class sub-folders", noClasses.Message);

        using (var image = Pattern(seed: 0)) await image.SaveAsPngAsync(temp.File("cats/cat.png"));
        File.WriteAllText(temp.File("dogs/readme.txt"), "no images here");
        var emptyClass = await Assert.ThrowsAsync<InvalidDataException>(() => ImageFolder.LoadAsync(Root, 8, 1));
        Assert.Contains(Path.Combine(Root, "dogs"), emptyClass.Message);

        await Assert.ThrowsAsync<DirectoryNotFoundException>(() => ImageFolder.LoadAsync(Path.Combine(Root, "absent"), 8, 1));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => ImageFolder.LoadAsync(Root, 8, 2));
    }

    [Fact]
    public async Task LoadingStopsWhenCancelled()
    {
        using (var image = Pattern(seed: 0)) await image.SaveAsPngAsync(temp.File("a/a.png"));
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ImageFolder.LoadAsync(Root, 8, 3, cancellationToken: cancelled.Token));
    }
}
