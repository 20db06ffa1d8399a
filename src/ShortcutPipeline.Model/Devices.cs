using ShortcutPipeline.Model.Precision;
using TorchSharp;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model;

/// <summary>Device names as the CLI and the worker's and trainer's settings take them: cpu, cuda, cuda:N, or auto.</summary>
public static class Devices
{
    /// <summary>
    /// The device <paramref name="value"/> names; "auto" (in any case) is CUDA when available, else the CPU.
    /// </summary>
    /// <exception cref="ArgumentException">Not a device name, or CUDA is asked for and not available.</exception>
    public static Device Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (string.Equals(value, "auto", StringComparison.OrdinalIgnoreCase)) return cuda.is_available() ? CUDA : CPU;
        try
        {
            var device = torch.device(value);
            if (device.type == DeviceType.CUDA && !cuda.is_available())
                throw new ArgumentException($"Device {value}: CUDA is not available on this machine.");
            return device;
        }
        catch (Exception e) when (e is not ArgumentException)
        {
            throw new ArgumentException($"Device {value}: expected cpu, cuda, cuda:N or auto.", e);
        }
    }

    /// <summary>
    /// The precision to sample with on <paramref name="device"/> and why (see <see cref="Precision.SamplingPrecision.Choose"/>):
    /// <paramref name="bfloat16"/> true or false forces bfloat16 or float32; null picks by the GPU's compute capability,
    /// read from the CUDA driver.
    /// </summary>
    public static SamplingPrecision SamplingPrecision(Device device, bool? bfloat16 = null) =>
        Precision.SamplingPrecision.Choose(device, bfloat16, CudaDriverCapabilities.Shared);

    /// <summary>The weight type of <see cref="SamplingPrecision"/>.</summary>
    public static ScalarType SamplingType(Device device, bool? bfloat16 = null) => SamplingPrecision(device, bfloat16).Type;
}
