using System.Runtime.InteropServices;
using TorchSharp;

namespace ShortcutPipeline.Model;

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
