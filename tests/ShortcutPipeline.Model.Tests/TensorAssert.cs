using static TorchSharp.torch;

namespace ShortcutPipeline.Model.Tests;

internal static class TensorAssert
{
    /// <summary>True when both tensors have the same shape and exactly the same values.</summary>
    public static bool SameValues(Tensor expected, Tensor actual) =>
        expected.shape.SequenceEqual(actual.shape) && expected.dtype == actual.dtype && expected.Equals(actual);

    /// <summary>Fails unless both tensors have the same shape and exactly the same values.</summary>
    public static void Equal(Tensor expected, Tensor actual, string? what = null)
    {
        Assert.Equal(expected.shape, actual.shape);
        if (SameValues(expected, actual)) return;
        using var difference = (expected.to(ScalarType.Float64) - actual.to(ScalarType.Float64)).abs().max();
        Assert.Fail($"{what ?? "Tensors"} differ: largest absolute difference {difference.item<double>()}.");
    }
}
