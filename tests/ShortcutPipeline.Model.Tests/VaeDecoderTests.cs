using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;
using ShortcutPipeline.Testing;

namespace ShortcutPipeline.Model.Tests;

public sealed class VaeDecoderTests : IDisposable
{
    private readonly TempDirectory temp = new();

    public void Dispose() => temp.Dispose();

    /// <summary>A small decoder whose every parameter (GroupNorm scales included) is random, so a load that
    /// skipped or swapped any tensor shows up in the output.</summary>
    private static VaeDecoder RandomSmallDecoder(long seed)
    {
        var vae = new VaeDecoder(VaeConfig.Small);
        using var generator = new Generator((ulong)seed);
        using var noGrad = torch.no_grad();
        foreach (var (_, parameter) in vae.named_parameters())
        {
            using var values = torch.randn(parameter.shape, generator: generator) * 0.2;
            parameter.copy_(values);
        }
        vae.eval();
        return vae;
    }

    /// <summary>The module's tensors under their diffusers names, plus encoder tensors a real file holds too.</summary>
    private static Dictionary<string, Tensor> DiffusersStateDict(VaeDecoder vae)
    {
        var tensors = vae.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone());
        using var generator = new Generator(5);
        tensors["encoder.conv_in.weight"] = torch.randn([16, 3, 3, 3], generator: generator);
        tensors["encoder.mid_block.attentions.0.to_q.weight"] = torch.randn([32, 32], generator: generator);
        tensors["quant_conv.weight"] = torch.randn([8, 8, 1, 1], generator: generator);
        return tensors;
    }

    private string Save(Dictionary<string, Tensor> tensors, string name = "diffusion_pytorch_model.safetensors")
    {
        string path = temp.File(name);
        Safetensors.SaveStateDict(path, tensors);
        foreach (var tensor in tensors.Values) tensor.Dispose();
        return path;
    }

    [Fact]
    public void WeightsSavedUnderDiffusersNamesLoadIntoAFreshDecoderAndDecodeIdentically()
    {
        using var original = RandomSmallDecoder(seed: 1);
        string path = Save(DiffusersStateDict(original));
        using var loaded = RandomSmallDecoder(seed: 2);
        using var latents = torch.randn(2, 4, 4, 4, generator: new Generator(7));

        using (var before = loaded.Decode(latents))
        using (var expected = original.Decode(latents))
        {
            Assert.False(TensorAssert.SameValues(before, expected), "two random decoders should differ before loading");
        }

        loaded.LoadWeights(path);
        AssertDecodeIdentically(original, loaded, latents);
    }

    private static void AssertDecodeIdentically(VaeDecoder expected, VaeDecoder actual, Tensor latents)
    {
        using var expectedImages = expected.Decode(latents);
        using var actualImages = actual.Decode(latents);
        TensorAssert.Equal(expectedImages, actualImages, "decoded images");
    }

    [Fact]
    public void PreDiffusers014AttentionNamesAreRenamedOnLoad()
    {
        using var original = RandomSmallDecoder(seed: 3);
        var tensors = DiffusersStateDict(original);
        const string attention = "decoder.mid_block.attentions.0.";
        foreach (var (newName, oldName) in new[] { ("to_q", "query"), ("to_k", "key"), ("to_v", "value"), ("to_out.0", "proj_attn") })
        {
            foreach (var leaf in new[] { "weight", "bias" })
            {
                tensors[$"{attention}{oldName}.{leaf}"] = tensors[$"{attention}{newName}.{leaf}"];
                tensors.Remove($"{attention}{newName}.{leaf}");
            }
        }
        string path = Save(tensors);
        Assert.DoesNotContain(SafetensorsFile.ReadHeader(path).Tensors.Select(t => t.Name), k => k.StartsWith("decoder.", StringComparison.Ordinal) && k.Contains(".to_q.", StringComparison.Ordinal));

        using var loaded = RandomSmallDecoder(seed: 4);
        loaded.LoadWeights(path);
        using var latents = torch.randn(1, 4, 3, 5, generator: new Generator(8));
        AssertDecodeIdentically(original, loaded, latents);
    }

    [Fact]
    public void AMissingDecoderTensorIsAnErrorNamingIt()
    {
        using var original = RandomSmallDecoder(seed: 5);
        var tensors = DiffusersStateDict(original);
        tensors.Remove("decoder.up_blocks.0.upsamplers.0.conv.bias", out var removed);
        removed!.Dispose();
        string path = Save(tensors);

        using var loaded = new VaeDecoder(VaeConfig.Small);
        var error = Assert.Throws<InvalidDataException>(() => loaded.LoadWeights(path));
        Assert.Contains("missing tensor 'decoder.up_blocks.0.upsamplers.0.conv.bias'", error.Message);
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void AMisShapedDecoderTensorIsAnErrorNamingItAndBothShapes()
    {
        using var original = RandomSmallDecoder(seed: 6);
        var tensors = DiffusersStateDict(original);
        tensors["decoder.conv_in.weight"].Dispose();
        tensors["decoder.conv_in.weight"] = torch.zeros(32, 4, 1, 1);
        string path = Save(tensors);

        using var loaded = new VaeDecoder(VaeConfig.Small);
        using var before = loaded.state_dict()["decoder.conv_in.weight"].clone();
        var error = Assert.Throws<InvalidDataException>(() => loaded.LoadWeights(path));
        Assert.Contains("'decoder.conv_in.weight' has shape [32, 4, 1, 1], the decoder expects [32, 4, 3, 3]", error.Message);
        TensorAssert.Equal(before, loaded.state_dict()["decoder.conv_in.weight"], "weights after a failed load");
    }

    [Fact]
    public void ADecoderTensorOfAnotherArchitectureIsAnError()
    {
        using var original = RandomSmallDecoder(seed: 9);
        var tensors = DiffusersStateDict(original);
        tensors["decoder.up_blocks.1.resnets.7.conv1.weight"] = torch.zeros(16, 16, 3, 3);
        string path = Save(tensors);

        using var loaded = new VaeDecoder(VaeConfig.Small);
        var error = Assert.Throws<InvalidDataException>(() => loaded.LoadWeights(path));
        Assert.Contains("unexpected tensor 'decoder.up_blocks.1.resnets.7.conv1.weight'", error.Message);
    }

    [Fact]
    public void AFileThatIsNotSafetensorsIsAnError()
    {
        string path = temp.File("weights.safetensors");
        File.WriteAllText(path, "this is not a safetensors file at all");
        using var vae = new VaeDecoder(VaeConfig.Small);
        var error = Assert.Throws<InvalidDataException>(() => vae.LoadWeights(path));
        Assert.Contains(path, error.Message);
        Assert.Throws<FileNotFoundException>(() => vae.LoadWeights(temp.File("absent.safetensors")));
    }

    [Fact]
    public void DecodeUnscalesLatentsAndReturnsClampedImagesUpscaledPerLevel()
    {
        using var vae = RandomSmallDecoder(seed: 10);
        using (torch.no_grad())
        {
            // Large output weights, so that the raw decoder overshoots [-1, 1] and the clamp is exercised.
            vae.state_dict()["decoder.conv_out.weight"].mul_(50);
        }
        using var latents = torch.randn(3, 4, 5, 6, generator: new Generator(11)) * 4;
        using var images = vae.Decode(latents);
        Assert.Equal(new long[] { 3, 3, 10, 12 }, images.shape);
        Assert.Equal(ScalarType.Float32, images.dtype);
        Assert.True(images.min().item<float>() >= -1f && images.max().item<float>() <= 1f);

        using var noGrad = torch.no_grad();
        using var unscaled = latents / VaeConfig.Small.ScalingFactor;
        using var raw = vae.forward(unscaled);
        Assert.True(raw.abs().max().item<float>() > 1f, "the random decoder should overshoot [-1, 1] so the clamp is tested");
        using var clamped = raw.clamp(-1, 1);
        TensorAssert.Equal(clamped, images);

        Assert.Throws<ArgumentException>(() => vae.Decode(torch.zeros(1, 3, 4, 4)));
    }

    [Fact]
    public void StableDiffusionConfigurationHasTheDiffusersDecoderTensors()
    {
        // Built on the meta device: names and shapes without allocating the 49M parameters.
        using var vae = new VaeDecoder(VaeConfig.StableDiffusion, torch.META);
        var shapes = vae.state_dict().ToDictionary(p => p.Key, p => p.Value.shape);

        // 248 tensors in sd-vae-ft-mse, of which the encoder holds 106 and quant_conv 2.
        Assert.Equal(140, shapes.Count);
        Assert.Equal(new long[] { 4, 4, 1, 1 }, shapes["post_quant_conv.weight"]);
        Assert.Equal(new long[] { 512, 4, 3, 3 }, shapes["decoder.conv_in.weight"]);
        Assert.Equal(new long[] { 512 }, shapes["decoder.mid_block.resnets.1.norm2.weight"]);
        Assert.Equal(new long[] { 512 }, shapes["decoder.mid_block.attentions.0.group_norm.bias"]);
        Assert.Equal(new long[] { 512, 512 }, shapes["decoder.mid_block.attentions.0.to_q.weight"]);
        Assert.Equal(new long[] { 512, 512 }, shapes["decoder.mid_block.attentions.0.to_out.0.weight"]);
        Assert.Equal(new long[] { 512, 512, 3, 3 }, shapes["decoder.up_blocks.0.resnets.2.conv2.weight"]);
        Assert.Equal(new long[] { 512, 512, 3, 3 }, shapes["decoder.up_blocks.0.upsamplers.0.conv.weight"]);
        Assert.Equal(new long[] { 256, 512, 1, 1 }, shapes["decoder.up_blocks.2.resnets.0.conv_shortcut.weight"]);
        Assert.Equal(new long[] { 128, 256, 1, 1 }, shapes["decoder.up_blocks.3.resnets.0.conv_shortcut.weight"]);
        Assert.Equal(new long[] { 128, 256, 3, 3 }, shapes["decoder.up_blocks.3.resnets.0.conv1.weight"]);
        Assert.Equal(new long[] { 128 }, shapes["decoder.conv_norm_out.weight"]);
        Assert.Equal(new long[] { 3, 128, 3, 3 }, shapes["decoder.conv_out.weight"]);
        Assert.DoesNotContain("decoder.up_blocks.3.upsamplers.0.conv.weight", shapes.Keys);
        Assert.DoesNotContain("decoder.up_blocks.1.resnets.0.conv_shortcut.weight", shapes.Keys);
        Assert.Equal(8, VaeConfig.StableDiffusion.UpscaleFactor);
    }

    [Fact]
    public void DiffusersConfigJsonIsReadWithDiffusersDefaults()
    {
        // The config.json of stabilityai/sd-vae-ft-mse has no scaling_factor: diffusers' default 0.18215 applies.
        string path = temp.File("config.json");
        File.WriteAllText(path, """
            {"_class_name": "AutoencoderKL", "_diffusers_version": "0.4.2", "act_fn": "silu",
             "block_out_channels": [128, 256, 512, 512],
             "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
             "in_channels": 3, "latent_channels": 4, "layers_per_block": 2, "norm_num_groups": 32, "out_channels": 3,
             "sample_size": 256,
             "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]}
            """);
        var config = VaeConfig.FromDiffusersJson(path);
        Assert.Equal([128, 256, 512, 512], config.BlockOutChannels);
        Assert.Equal(VaeConfig.StableDiffusion with { SampleSize = 256, BlockOutChannels = config.BlockOutChannels }, config);

        File.WriteAllText(path, """{"act_fn": "gelu", "block_out_channels": [32]}""");
        var error = Assert.Throws<InvalidDataException>(() => VaeConfig.FromDiffusersJson(path));
        Assert.Contains("act_fn", error.Message);
        File.WriteAllText(path, """{"block_out_channels": [30, 60], "norm_num_groups": 32}""");
        Assert.Throws<InvalidDataException>(() => VaeConfig.FromDiffusersJson(path));
        File.WriteAllText(path, "{ not json");
        Assert.Throws<InvalidDataException>(() => VaeConfig.FromDiffusersJson(path));
    }

    [Fact]
    public void FromPretrainedReadsTheConfigBesideTheWeights()
    {
        using var original = RandomSmallDecoder(seed: 12);
        string weights = Save(DiffusersStateDict(original), "small-vae/diffusion_pytorch_model.safetensors");
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(weights)!, "config.json"), """
            {"act_fn": "silu", "block_out_channels": [16, 32], "latent_channels": 4, "layers_per_block": 1,
             "norm_num_groups": 8, "out_channels": 3, "sample_size": 16, "scaling_factor": 0.5,
             "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"]}
            """);

        using var loaded = VaeDecoder.FromPretrained(weights);
        Assert.Equal(0.5, loaded.Config.ScalingFactor);
        using var latents = torch.randn(1, 4, 4, 4, generator: new Generator(13));
        AssertDecodeIdentically(original, loaded, latents);
    }
}
