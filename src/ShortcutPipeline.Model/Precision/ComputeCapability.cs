using System.Globalization;

namespace ShortcutPipeline.Model.Precision;

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
