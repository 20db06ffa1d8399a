using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace ShortcutPipeline.Model.Precision;

/// <summary>
/// Reads compute capabilities from the NVIDIA driver's CUDA API (libcuda.so.1: cuInit, cuDeviceGet,
/// cuDeviceGetAttribute), which the NVIDIA container runtime mounts into GPU containers. TorchSharp 0.107 exposes
/// no call for it. Each device is read once; without the driver, or on an error, the capability is unknown (null).
/// </summary>
public sealed class CudaDriverCapabilities : IComputeCapabilities
{
    private const int Success = 0;
    private const int ComputeCapabilityMajor = 75;   // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
    private const int ComputeCapabilityMinor = 76;   // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR

    private readonly ConcurrentDictionary<int, ComputeCapability?> known = new();
    private readonly Lazy<Driver?> driver = new(Driver.Load);

    private CudaDriverCapabilities()
    {
    }

    /// <summary>The one reader of the process.</summary>
    public static CudaDriverCapabilities Shared { get; } = new();

    /// <inheritdoc/>
    public ComputeCapability? Of(int deviceIndex) => known.GetOrAdd(deviceIndex, Read);

    private ComputeCapability? Read(int deviceIndex)
    {
        Driver? cuda = driver.Value;
        if (cuda is null || deviceIndex < 0
            || cuda.DeviceGet(out int device, deviceIndex) != Success
            || cuda.DeviceGetAttribute(out int major, ComputeCapabilityMajor, device) != Success
            || cuda.DeviceGetAttribute(out int minor, ComputeCapabilityMinor, device) != Success)
        {
            return null;
        }

        return new ComputeCapability(major, minor);
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int CuInit(uint flags);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int CuDeviceGet(out int device, int ordinal);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int CuDeviceGetAttribute(out int value, int attribute, int device);

    /// <summary>The three driver calls, bound once; null where the library or a symbol is missing or cuInit fails.</summary>
    private sealed class Driver(CuDeviceGet deviceGet, CuDeviceGetAttribute deviceGetAttribute)
    {
        public CuDeviceGet DeviceGet { get; } = deviceGet;

        public CuDeviceGetAttribute DeviceGetAttribute { get; } = deviceGetAttribute;

        public static Driver? Load()
        {
            if (!OperatingSystem.IsLinux() && !OperatingSystem.IsWindows())
            {
                return null;
            }

            string name = OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1";
            if (!NativeLibrary.TryLoad(name, out nint library)
                || !NativeLibrary.TryGetExport(library, "cuInit", out nint init)
                || !NativeLibrary.TryGetExport(library, "cuDeviceGet", out nint deviceGet)
                || !NativeLibrary.TryGetExport(library, "cuDeviceGetAttribute", out nint deviceGetAttribute))
            {
                return null;
            }

            if (Marshal.GetDelegateForFunctionPointer<CuInit>(init)(0) != Success)
            {
                return null;
            }

            return new Driver(
                Marshal.GetDelegateForFunctionPointer<CuDeviceGet>(deviceGet),
                Marshal.GetDelegateForFunctionPointer<CuDeviceGetAttribute>(deviceGetAttribute));
        }
    }
}
