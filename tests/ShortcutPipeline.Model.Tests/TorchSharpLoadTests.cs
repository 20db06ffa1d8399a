using TorchSharp;

namespace ShortcutPipeline.Model.Tests;

public sealed class TorchSharpLoadTests
{
    [Fact]
    public void LibTorchLoadsFromTheBuildOutput()
    {
        // Fails with "no reference to libtorch-cpu" when build/ElfVersionNeeds.targets did not run.
        using var a = torch.ones(2, 3);
        using var b = torch.ones(3, 2);
        using var c = a.matmul(b);
        Assert.Equal(3f, c[0, 0].item<float>());
    }

    [Fact]
    public void NnpackIsSwitchedOffAndConvolutionsStillRun()
    {
        // True only when the libtorch symbols were found and called.
        Assert.True(LibTorchSettings.DisableNnpack());
        using var input = torch.ones(1, 1, 4, 4);
        using var kernel = torch.ones(1, 1, 2, 2);
        using var output = torch.nn.functional.conv2d(input, kernel, strides: [2, 2]);
        Assert.Equal([1L, 1, 2, 2], output.shape);
        Assert.All(output.data<float>().ToArray(), v => Assert.Equal(4f, v));
    }
}
