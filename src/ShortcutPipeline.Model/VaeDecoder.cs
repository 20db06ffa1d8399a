using ShortcutPipeline.Model.Imaging;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ShortcutPipeline.Model;

/// <summary>
/// The decoder half of a Stable Diffusion VAE (diffusers <c>AutoencoderKL</c>: <c>post_quant_conv</c> followed by
/// <c>decoder</c>), with diffusers' architecture and parameter names, so that a diffusers safetensors file loads
/// by name (<see cref="LoadWeights"/>). It turns latents (B, 4, h, w) into images (B, 3, 8h, 8w) in [-1, 1].
/// </summary>
/// <remarks>
/// <para>Bringing the real weights (stabilityai/sd-vae-ft-mse): on a machine with network access download the two
/// files <c>diffusion_pytorch_model.safetensors</c> and <c>config.json</c> from the Hugging Face repository
/// <c>stabilityai/sd-vae-ft-mse</c> (https://huggingface.co/stabilityai/sd-vae-ft-mse/tree/main, or
/// <c>huggingface-cli download stabilityai/sd-vae-ft-mse diffusion_pytorch_model.safetensors config.json --local-dir sd-vae-ft-mse</c>),
/// put them side by side in one folder (copy that folder to the worker's model storage), and point the model
/// configuration's VAE path at the <c>.safetensors</c> file. <see cref="FromPretrained"/> reads the config.json
/// beside it (or uses <see cref="VaeConfig.StableDiffusion"/> when there is none) and loads only the
/// <c>decoder.*</c> and <c>post_quant_conv.*</c> tensors; the encoder half in the file is skipped.</para>
/// <para>The file's older attention names (<c>query</c>, <c>key</c>, <c>value</c>, <c>proj_attn</c>, written by
/// diffusers before 0.14) are renamed to <c>to_q</c>, <c>to_k</c>, <c>to_v</c>, <c>to_out.0</c> on load.</para>
/// </remarks>
public sealed class VaeDecoder : nn.Module<Tensor, Tensor>, IImageDecoder
{
    private readonly Conv2d post_quant_conv;
    private readonly VaeDecoderStack decoder;

    /// <summary>Creates a decoder with freshly initialized weights on <paramref name="device"/> (CPU by default).</summary>
    public VaeDecoder(VaeConfig config, Device? device = null) : base(nameof(VaeDecoder))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        LibTorchSettings.DisableNnpack();
        post_quant_conv = VaeLayers.Conv2d(config.LatentChannels, config.LatentChannels, 1, device);
        decoder = new VaeDecoderStack(config, device);
        RegisterComponents();
    }

    /// <summary>The architecture and latent scaling of this decoder.</summary>
    public VaeConfig Config { get; }

    /// <summary>
    /// Creates a decoder from a diffusers safetensors file, with the architecture read from the config.json
    /// beside it (<see cref="VaeConfig.StableDiffusion"/> when there is none), in evaluation mode.
    /// </summary>
    /// <exception cref="FileNotFoundException">The weights file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not safetensors, or a decoder tensor is missing or
    /// mis-shaped (the message names it), or the config.json is unusable.</exception>
    public static VaeDecoder FromPretrained(string weightsPath, Device? device = null)
    {
        string configPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(weightsPath))!, VaeConfig.DiffusersConfigFileName);
        var config = File.Exists(configPath) ? VaeConfig.FromDiffusersJson(configPath) : VaeConfig.StableDiffusion;
        var vae = new VaeDecoder(config, device);
        try
        {
            vae.LoadWeights(weightsPath);
        }
        catch
        {
            vae.Dispose();
            throw;
        }
        vae.eval();
        return vae;
    }

    /// <summary>
    /// Copies the <c>decoder.*</c> and <c>post_quant_conv.*</c> tensors of a diffusers safetensors file into this
    /// module (converted to the module's dtype and device). Every decoder parameter must be present with its
    /// exact shape; tensors of other prefixes (the encoder, <c>quant_conv</c>) are ignored.
    /// </summary>
    public void LoadWeights(string safetensorsPath) => VaeWeights.Load(this, safetensorsPath);

    /// <summary>The raw decoder: <c>post_quant_conv</c> then <c>decoder</c>, on already unscaled latents.</summary>
    public override Tensor forward(Tensor latents) => decoder.forward(post_quant_conv.forward(latents));

    /// <summary>
    /// Decodes scaled latents (B, latent channels, h, w), as a diffusion model produces them, into images
    /// (B, out channels, h * <see cref="VaeConfig.UpscaleFactor"/>, w * upscale) in [-1, 1], float32, on the
    /// module's device. Unscales with <c>latents / scaling_factor + shift_factor</c> first, as diffusers pipelines do.
    /// </summary>
    public Tensor Decode(Tensor samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (samples.dim() != 4 || samples.shape[1] != Config.LatentChannels)
            throw new ArgumentException(
                $"Latents must be (B, {Config.LatentChannels}, h, w), got ({string.Join(", ", samples.shape)}).", nameof(samples));
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var weight = post_quant_conv.weight!;
        var latents = samples.to(weight.dtype, weight.device) / Config.ScalingFactor + Config.ShiftFactor;
        return forward(latents).to(ScalarType.Float32).clamp(-1, 1).MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers <c>Decoder</c>: conv_in, mid block, up blocks (lowest resolution first), norm, SiLU, conv_out.</summary>
internal sealed class VaeDecoderStack : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv_in;
    private readonly VaeMidBlock mid_block;
    private readonly ModuleList<VaeUpBlock> up_blocks = new();
    private readonly GroupNorm conv_norm_out;
    private readonly Conv2d conv_out;

    public VaeDecoderStack(VaeConfig config, Device? device) : base("decoder")
    {
        var channels = config.BlockOutChannels.Reverse().ToArray();
        conv_in = VaeLayers.Conv2d(config.LatentChannels, channels[0], 3, device, padding: 1);
        mid_block = new VaeMidBlock(channels[0], config.NormGroups, device);
        for (int i = 0; i < channels.Length; i++)
        {
            int inChannels = channels[Math.Max(i - 1, 0)];
            bool upsample = i < channels.Length - 1;
            up_blocks.Add(new VaeUpBlock(inChannels, channels[i], config.LayersPerBlock + 1, config.NormGroups, upsample, device));
        }
        conv_norm_out = VaeLayers.GroupNorm(config.NormGroups, channels[^1], device);
        conv_out = VaeLayers.Conv2d(channels[^1], config.OutChannels, 3, device, padding: 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor latents)
    {
        using var scope = torch.NewDisposeScope();
        var x = mid_block.forward(conv_in.forward(latents));
        foreach (var block in up_blocks) x = block.forward(x);
        return conv_out.forward(F.silu(conv_norm_out.forward(x))).MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers <c>ResnetBlock2D</c> without time embedding: two GroupNorm-SiLU-conv steps and a skip
/// connection, which is a 1x1 <c>conv_shortcut</c> when the channel count changes.</summary>
internal sealed class VaeResnetBlock : nn.Module<Tensor, Tensor>
{
    private readonly GroupNorm norm1;
    private readonly Conv2d conv1;
    private readonly GroupNorm norm2;
    private readonly Conv2d conv2;
    private readonly Conv2d? conv_shortcut;

    public VaeResnetBlock(int inChannels, int outChannels, int groups, Device? device) : base(nameof(VaeResnetBlock))
    {
        norm1 = VaeLayers.GroupNorm(groups, inChannels, device);
        conv1 = VaeLayers.Conv2d(inChannels, outChannels, 3, device, padding: 1);
        norm2 = VaeLayers.GroupNorm(groups, outChannels, device);
        conv2 = VaeLayers.Conv2d(outChannels, outChannels, 3, device, padding: 1);
        if (inChannels != outChannels) conv_shortcut = VaeLayers.Conv2d(inChannels, outChannels, 1, device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var h = conv1.forward(F.silu(norm1.forward(x)));
        h = conv2.forward(F.silu(norm2.forward(h)));
        var skip = conv_shortcut is null ? x : conv_shortcut.forward(x);
        return (skip + h).MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers <c>Attention</c> as the VAE mid block uses it: GroupNorm, then one head of self-attention
/// over all pixels with the channels as features, an output projection (<c>to_out.0</c>) and a residual.</summary>
internal sealed class VaeAttentionBlock : nn.Module<Tensor, Tensor>
{
    private readonly GroupNorm group_norm;
    private readonly Linear to_q;
    private readonly Linear to_k;
    private readonly Linear to_v;
    private readonly ModuleList<Linear> to_out;

    public VaeAttentionBlock(int channels, int groups, Device? device) : base(nameof(VaeAttentionBlock))
    {
        group_norm = VaeLayers.GroupNorm(groups, channels, device);
        to_q = VaeLayers.Linear(channels, channels, device);
        to_k = VaeLayers.Linear(channels, channels, device);
        to_v = VaeLayers.Linear(channels, channels, device);
        to_out = new ModuleList<Linear>(VaeLayers.Linear(channels, channels, device));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        long batch = x.shape[0], channels = x.shape[1], height = x.shape[2], width = x.shape[3];
        // (B, C, H, W) -> (B, H*W, C): every pixel is a token.
        var tokens = group_norm.forward(x).view(batch, channels, height * width).transpose(1, 2);
        // One head: (B, 1, H*W, C); the default scale 1/sqrt(C) is diffusers' dim_head ** -0.5.
        var q = to_q.forward(tokens).unsqueeze(1);
        var k = to_k.forward(tokens).unsqueeze(1);
        var v = to_v.forward(tokens).unsqueeze(1);
        var attended = F.scaled_dot_product_attention(q, k, v).squeeze(1);
        var projected = to_out[0].forward(attended).transpose(1, 2).reshape(batch, channels, height, width);
        return (projected + x).MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers <c>UNetMidBlock2D</c> of the VAE: resnet, attention, resnet at the lowest resolution.</summary>
internal sealed class VaeMidBlock : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<VaeResnetBlock> resnets;
    private readonly ModuleList<VaeAttentionBlock> attentions;

    public VaeMidBlock(int channels, int groups, Device? device) : base(nameof(VaeMidBlock))
    {
        resnets = new ModuleList<VaeResnetBlock>(
            new VaeResnetBlock(channels, channels, groups, device), new VaeResnetBlock(channels, channels, groups, device));
        attentions = new ModuleList<VaeAttentionBlock>(new VaeAttentionBlock(channels, groups, device));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        return resnets[1].forward(attentions[0].forward(resnets[0].forward(x))).MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers <c>UpDecoderBlock2D</c>: resnet blocks, then (except the last level) a 2x upsampler.</summary>
internal sealed class VaeUpBlock : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<VaeResnetBlock> resnets = new();
    private readonly ModuleList<VaeUpsample> upsamplers = new();

    public VaeUpBlock(int inChannels, int outChannels, int layers, int groups, bool upsample, Device? device)
        : base(nameof(VaeUpBlock))
    {
        for (int i = 0; i < layers; i++)
            resnets.Add(new VaeResnetBlock(i == 0 ? inChannels : outChannels, outChannels, groups, device));
        if (upsample) upsamplers.Add(new VaeUpsample(outChannels, device));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        foreach (var resnet in resnets) x = resnet.forward(x);
        foreach (var upsampler in upsamplers) x = upsampler.forward(x);
        return x.MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers <c>Upsample2D</c> with a conv: nearest-neighbour 2x, then a 3x3 convolution.</summary>
internal sealed class VaeUpsample : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv;

    public VaeUpsample(int channels, Device? device) : base(nameof(VaeUpsample))
    {
        conv = VaeLayers.Conv2d(channels, channels, 3, device, padding: 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var upsampled = F.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
        return conv.forward(upsampled);
    }
}

/// <summary>
/// Builds the decoder's layers. The convolutions and linears draw their default initial weights from torch's global
/// generator (the decoder's real weights are loaded over them), so they are built holding
/// <see cref="LibTorchSettings.GlobalRandomLock"/>: a seeded model built on another thread meanwhile draws the same
/// weights.
/// </summary>
internal static class VaeLayers
{
    public static Conv2d Conv2d(long inChannels, long outChannels, long kernelSize, Device? device, long padding = 0)
    {
        lock (LibTorchSettings.GlobalRandomLock)
        {
            return nn.Conv2d(inChannels, outChannels, kernelSize, padding: padding, device: device);
        }
    }

    public static Linear Linear(long inFeatures, long outFeatures, Device? device)
    {
        lock (LibTorchSettings.GlobalRandomLock)
        {
            return nn.Linear(inFeatures, outFeatures, device: device);
        }
    }

    /// <summary>
    /// The VAE's GroupNorm: affine, eps 1e-6 (diffusers' resnet_eps for AutoencoderKL), scale 1 and shift 0.
    /// TorchSharp 0.107's nn.GroupNorm leaves its weight and bias uninitialized (torch.empty), so they are set here.
    /// </summary>
    public static GroupNorm GroupNorm(int groups, int channels, Device? device)
    {
        var norm = nn.GroupNorm(groups, channels, eps: 1e-6, device: device);
        using var noGrad = torch.no_grad();
        nn.init.ones_(norm.weight!);
        nn.init.zeros_(norm.bias!);
        return norm;
    }
}
