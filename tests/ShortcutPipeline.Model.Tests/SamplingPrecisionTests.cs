using TorchSharp;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Tests;

/// <summary>The weight type the worker samples in, chosen per device from its compute capability.</summary>
public sealed class SamplingPrecisionTests
{
    private static readonly Device Gpu = new(DeviceType.CUDA, 0);

    [Theory]
    [InlineData(7, 5, ScalarType.Float16, "7.5")] // T4: bfloat16 is emulated there, float16 has tensor cores
    [InlineData(7, 0, ScalarType.Float16, "7.0")] // V100
    [InlineData(6, 1, ScalarType.Float32, "6.1")] // P4/P40: no tensor cores, float16 at 1/64 of float32's rate
    [InlineData(8, 0, ScalarType.BFloat16, "8.0")] // A100
    [InlineData(8, 9, ScalarType.BFloat16, "8.9")] // L4
    [InlineData(9, 0, ScalarType.BFloat16, "9.0")] // H100
    public void TheComputeCapabilityPicksTheWeightType(int major, int minor, ScalarType expected, string named)
    {
        var fake = new FakeCapabilities(new ComputeCapability(major, minor));

        SamplingPrecision precision = SamplingPrecision.Choose(Gpu, bfloat16: null, fake);

        Assert.Equal(expected, precision.Type);
        Assert.Contains($"compute capability {named}", precision.Reason, StringComparison.Ordinal);
        Assert.Equal([0], fake.Asked);
    }

    [Fact]
    public void TheCpuSamplesInFloat32WithoutAskingForACapability()
    {
        var fake = new FakeCapabilities(new ComputeCapability(9, 0));

        SamplingPrecision precision = SamplingPrecision.Choose(CPU, bfloat16: null, fake);

        Assert.Equal((ScalarType.Float32, "the CPU"), (precision.Type, precision.Reason));
        Assert.Empty(fake.Asked);
    }

    [Fact]
    public void AnUnknownCapabilitySamplesInFloat32AndSaysSo()
    {
        SamplingPrecision precision = SamplingPrecision.Choose(new Device(DeviceType.CUDA, 1), bfloat16: null, new FakeCapabilities(null));

        Assert.Equal(ScalarType.Float32, precision.Type);
        Assert.Contains("compute capability of cuda:1 unknown", precision.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true, ScalarType.BFloat16)]
    [InlineData(false, ScalarType.Float32)]
    public void TheBFloat16SettingOverridesTheDevice(bool bfloat16, ScalarType expected)
    {
        SamplingPrecision precision = SamplingPrecision.Choose(Gpu, bfloat16, new FakeCapabilities(new ComputeCapability(7, 5)));

        Assert.Equal(expected, precision.Type);
        Assert.Contains($"BFloat16 = {bfloat16.ToString().ToLowerInvariant()}", precision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void TheLogTextNamesTheTypeAndTheReason()
    {
        SamplingPrecision precision = SamplingPrecision.Choose(Gpu, null, new FakeCapabilities(new ComputeCapability(7, 5)));

        Assert.StartsWith("Float16 (compute capability 7.5", precision.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void WithoutTheCudaDriverTheCapabilityIsUnknownNotAnError()
    {
        // This machine has no NVIDIA driver (libcuda.so.1), as every CI machine: the reader says "unknown".
        if (File.Exists("/dev/nvidiactl"))
        {
            Assert.NotNull(CudaDriverCapabilities.Shared.Of(0));
            return;
        }

        Assert.Null(CudaDriverCapabilities.Shared.Of(0));
    }

    private sealed class FakeCapabilities(ComputeCapability? capability) : IComputeCapabilities
    {
        public List<int> Asked { get; } = [];

        public ComputeCapability? Of(int deviceIndex)
        {
            Asked.Add(deviceIndex);
            return capability;
        }
    }
}
