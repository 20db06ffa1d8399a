using TorchSharp;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Precision;

/// <summary>The weight type a model samples in on one device, and why it was chosen (for the load log line).</summary>
/// <param name="Type">Float32, Float16 or BFloat16.</param>
/// <param name="Reason">Why, in a few words: the device, its compute capability or the setting that decided.</param>
public sealed record SamplingPrecision(ScalarType Type, string Reason)
{
    /// <summary>
    /// The precision to sample with on <paramref name="device"/>. <paramref name="bfloat16"/> true or false is the
    /// operator's choice (bfloat16 or float32); null lets the device decide:
    /// <list type="bullet">
    /// <item>the CPU: float32;</item>
    /// <item>compute capability 8.0 or more (A100, L4, H100): bfloat16, which those GPUs run natively;</item>
    /// <item>7.0 to 7.9 (V100, T4): float16. They have float16 tensor cores but no bfloat16 arithmetic, so
    /// libtorch emulates bfloat16 there, several times slower than float16;</item>
    /// <item>below 7.0, or a capability that cannot be read: float32. Those GPUs have no tensor cores, and some
    /// (6.1) run float16 at 1/64 of their float32 rate.</item>
    /// </list>
    /// </summary>
    /// <remarks>
    /// Float16 keeps 10 mantissa bits (bfloat16: 7) but overflows above 65504. For the DiT the places that could
    /// overflow are covered: the sine-cosine features of t (scaled by 1000) and of the level are computed in
    /// float32 before the cast (<see cref="Sinusoidal.Embed"/>), and the features lie in [-1, 1];
    /// scaled_dot_product_attention scales q by 1/sqrt(head size) before the product, and libtorch's CUDA
    /// attention kernels (flash, memory-efficient) accumulate the logits and the softmax in float32; LayerNorm
    /// accumulates half inputs in float32 too; adaLN-Zero's shift, scale and gates come from zero-initialised
    /// linear maps and stay small in trained models. The residual stream is the one value that grows with depth.
    /// The largest preset, DiT-XL/2, is run in float16 in diffusers' own DiT pipeline. The sampler keeps x and its
    /// Euler updates in float32 and casts only the network's input, so rounding does not add up over 128 steps.
    /// The Stable Diffusion VAE decoder is loaded in float32 either way.
    /// </remarks>
    public static SamplingPrecision Choose(Device device, bool? bfloat16, IComputeCapabilities capabilities)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(capabilities);
        if (bfloat16 is bool chosen)
        {
            return chosen
                ? new SamplingPrecision(ScalarType.BFloat16, "BFloat16 = true in the settings")
                : new SamplingPrecision(ScalarType.Float32, "BFloat16 = false in the settings");
        }

        if (device.type != DeviceType.CUDA)
        {
            return new SamplingPrecision(ScalarType.Float32, "the CPU");
        }

        int index = Math.Max(0, device.index);
        if (capabilities.Of(index) is not ComputeCapability capability)
        {
            return new SamplingPrecision(ScalarType.Float32, $"compute capability of cuda:{index} unknown (no CUDA driver API)");
        }

        if (capability.IsAtLeast(8, 0))
        {
            return new SamplingPrecision(ScalarType.BFloat16, $"compute capability {capability} >= 8.0: native bfloat16");
        }

        return capability.IsAtLeast(7, 0)
            ? new SamplingPrecision(ScalarType.Float16, $"compute capability {capability} < 8.0: bfloat16 would be emulated, float16 has tensor cores")
            : new SamplingPrecision(ScalarType.Float32, $"compute capability {capability} < 7.0: no tensor cores");
    }

    /// <summary>"Float16 (compute capability 7.5 ...)".</summary>
    public override string ToString() => $"{Type} ({Reason})";
}
