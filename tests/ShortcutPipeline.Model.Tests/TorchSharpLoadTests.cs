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
}
