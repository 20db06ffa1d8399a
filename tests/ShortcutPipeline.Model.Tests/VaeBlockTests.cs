using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ShortcutPipeline.Model.Tests;

public sealed class VaeBlockTests
{
    [Fact]
    public void AttentionBlockIsSingleHeadSelfAttentionOverPixelsWithAResidual()
    {
        using var generator = new Generator(21);
        using var block = new VaeAttentionBlock(channels: 16, groups: 4, device: null);
        var parameters = block.state_dict();
        using (torch.no_grad())
        {
            foreach (var parameter in parameters.Values) parameter.copy_(torch.randn(parameter.shape, generator: generator) * 0.3);
        }
        using var x = torch.randn([2, 16, 3, 5], generator: generator);
        using var actual = block.forward(x);

        // Written out step by step: softmax(Q K^T / sqrt(C)) V over the H*W pixel tokens.
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        Tensor Project(Tensor tokens, string name) =>
            tokens.matmul(parameters[$"{name}.weight"].t()) + parameters[$"{name}.bias"];
        var normalized = F.group_norm(x, 4, parameters["group_norm.weight"], parameters["group_norm.bias"], 1e-6);
        var tokens = normalized.flatten(2).transpose(1, 2);
        var q = Project(tokens, "to_q");
        var k = Project(tokens, "to_k");
        var v = Project(tokens, "to_v");
        var weights = (q.matmul(k.transpose(1, 2)) / Math.Sqrt(16)).softmax(-1);
        var output = Project(weights.matmul(v), "to_out.0");
        var expected = output.transpose(1, 2).reshape(2, 16, 3, 5) + x;

        Assert.True(expected.allclose(actual, rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void GroupNormsStartAsTheIdentityAffineTransform()
    {
        // TorchSharp 0.107's nn.GroupNorm leaves weight and bias as uninitialized memory (often NaN).
        for (int attempt = 0; attempt < 5; attempt++)
        {
            using var block = new VaeResnetBlock(64, 64, groups: 8, device: null);
            foreach (var name in new[] { "norm1", "norm2" })
            {
                using var weight = block.state_dict()[$"{name}.weight"].detach().clone();
                using var bias = block.state_dict()[$"{name}.bias"].detach().clone();
                using var ones = torch.ones(64);
                using var zeros = torch.zeros(64);
                TensorAssert.Equal(ones, weight, $"{name}.weight");
                TensorAssert.Equal(zeros, bias, $"{name}.bias");
            }
        }
    }

    [Fact]
    public void ResnetBlockUsesAShortcutConvolutionOnlyWhenChannelsChange()
    {
        using var same = new VaeResnetBlock(8, 8, groups: 4, device: null);
        using var wider = new VaeResnetBlock(8, 16, groups: 4, device: null);
        Assert.DoesNotContain(same.state_dict().Keys, k => k.StartsWith("conv_shortcut", StringComparison.Ordinal));
        Assert.Equal(new long[] { 16, 8, 1, 1 }, wider.state_dict()["conv_shortcut.weight"].shape);

        // With conv2 zeroed the residual branch adds nothing: without a shortcut conv the output is the input.
        using (torch.no_grad())
        {
            same.state_dict()["conv2.weight"].zero_();
            same.state_dict()["conv2.bias"].zero_();
        }
        using var generator = new Generator(8);
        using var x = torch.randn([1, 8, 4, 4], generator: generator);
        using var y = same.forward(x);
        TensorAssert.Equal(x, y);
    }

    [Fact]
    public void UpsampleDoublesEachPixelBeforeItsConvolution()
    {
        using var upsample = new VaeUpsample(channels: 1, device: null);
        using (torch.no_grad())
        {
            // A 3x3 kernel that passes the centre pixel through unchanged.
            var weight = upsample.state_dict()["conv.weight"];
            weight.zero_();
            weight[0, 0, 1, 1] = torch.tensor(1f);
            upsample.state_dict()["conv.bias"].zero_();
        }
        using var x = torch.tensor(new float[] { 1, 2, 3, 4 }, [1, 1, 2, 2]);
        using var y = upsample.forward(x);
        using var expected = torch.tensor(new float[] { 1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4 }, [1, 1, 4, 4]);
        TensorAssert.Equal(expected, y);
    }
}
