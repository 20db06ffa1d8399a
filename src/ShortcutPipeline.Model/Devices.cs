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

    /// <summary>The weight type to sample with on <paramref name="device"/>: bfloat16 on CUDA unless told otherwise, float32 on the CPU.</summary>
    public static ScalarType SamplingType(Device device, bool? bfloat16 = null) =>
        (bfloat16 ?? device.type == DeviceType.CUDA) ? ScalarType.BFloat16 : ScalarType.Float32;
}
