using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
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
    /// The precision to sample with on <paramref name="device"/> and why (see <see cref="ShortcutPipeline.Model.SamplingPrecision.Choose"/>):
    /// <paramref name="bfloat16"/> true or false forces bfloat16 or float32; null picks by the GPU's compute capability,
    /// read from the CUDA driver.
    /// </summary>
    public static SamplingPrecision SamplingPrecision(Device device, bool? bfloat16 = null) =>
        ShortcutPipeline.Model.SamplingPrecision.Choose(device, bfloat16, CudaDriverCapabilities.Shared);

    /// <summary>The weight type of <see cref="SamplingPrecision"/>.</summary>
    public static ScalarType SamplingType(Device device, bool? bfloat16 = null) => SamplingPrecision(device, bfloat16).Type;
}

/// <summary>
/// Process-wide libtorch settings that TorchSharp 0.107 does not expose. Applied once, before the first module is
/// built, by the modules that need them.
/// </summary>
public static class LibTorchSettings
{
    static readonly Lazy<bool> NnpackDisabled = new(TryDisableNnpack);

    /// <summary>
    /// Turns libtorch's NNPACK convolution path off (PyTorch's <c>torch.backends.nnpack.set_flags(False)</c>). On CPUs
    /// that NNPACK's cpuinfo does not recognise, every convolution otherwise prints "Could not initialize NNPACK!
    /// Reason: Unsupported hardware." to stderr; with the flag off, libtorch goes straight to its other kernels.
    /// Returns whether the flag is off; false where the libtorch symbols can't be found (the setting is cosmetic).
    /// </summary>
    public static bool DisableNnpack() => NnpackDisabled.Value;

    /// <summary>
    /// Held by every module of this assembly while it draws its initial weights. torch's global generator is one per
    /// process, and a layer draws its default weights from it as it is built: so a seeded model (<see cref="DiT"/>,
    /// <see cref="QualityClassifier"/>) draws the same weights only if no other thread builds layers meanwhile.
    /// </summary>
    internal static readonly object GlobalRandomLock = new();

    // at::globalContext() and at::Context::setUserEnabledNNPACK(bool), by their Itanium C++ names in libtorch_cpu.so.
    const string GlobalContextSymbol = "_ZN2at13globalContextEv";
    const string SetUserEnabledNnpackSymbol = "_ZN2at7Context20setUserEnabledNNPACKEb";

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate nint GlobalContext();

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate void SetContextFlag(nint context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    static bool TryDisableNnpack()
    {
        if (!OperatingSystem.IsLinux()) return false;
        torch.InitializeDeviceType(DeviceType.CPU); // TorchSharp loads libtorch on first use
        if (!NativeLibrary.TryLoad("libtorch_cpu.so", typeof(torch).Assembly, null, out var libtorch)) return false;
        if (!NativeLibrary.TryGetExport(libtorch, GlobalContextSymbol, out var globalContext) ||
            !NativeLibrary.TryGetExport(libtorch, SetUserEnabledNnpackSymbol, out var setUserEnabledNnpack))
            return false;
        var context = Marshal.GetDelegateForFunctionPointer<GlobalContext>(globalContext)();
        Marshal.GetDelegateForFunctionPointer<SetContextFlag>(setUserEnabledNnpack)(context, false);
        return true;
    }
}

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

/// <summary>A CUDA device's compute capability, such as 7.5 (T4), 8.0 (A100) or 9.0 (H100).</summary>
/// <param name="Major">The major version: 7 for Volta and Turing, 8 for Ampere and Ada, 9 for Hopper.</param>
/// <param name="Minor">The minor version.</param>
public readonly record struct ComputeCapability(int Major, int Minor) : IComparable<ComputeCapability>
{
    /// <summary>Compares by major, then minor version.</summary>
    public int CompareTo(ComputeCapability other) =>
        Major != other.Major ? Major.CompareTo(other.Major) : Minor.CompareTo(other.Minor);

    /// <summary>Whether this capability is at least <paramref name="major"/>.<paramref name="minor"/>.</summary>
    public bool IsAtLeast(int major, int minor) => CompareTo(new ComputeCapability(major, minor)) >= 0;

    /// <summary>"7.5".</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Major}.{Minor}");
}

/// <summary>Tells the compute capability of a CUDA device (TorchSharp 0.107 has no call for it).</summary>
public interface IComputeCapabilities
{
    /// <summary>The capability of CUDA device <paramref name="deviceIndex"/>, or null when it cannot be read.</summary>
    ComputeCapability? Of(int deviceIndex);
}

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
