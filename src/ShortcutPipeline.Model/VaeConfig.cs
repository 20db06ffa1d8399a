using System.Text.Json;

namespace ShortcutPipeline.Model;

/// <summary>
/// Shape of a Stable Diffusion style VAE decoder (the decoder half of diffusers' <c>AutoencoderKL</c>).
/// The property names mirror the keys of a diffusers <c>config.json</c>.
/// </summary>
/// <param name="LatentChannels">Channels of the latents the decoder reads (<c>latent_channels</c>).</param>
/// <param name="OutChannels">Channels of the decoded images (<c>out_channels</c>).</param>
/// <param name="BlockOutChannels">Channels per resolution level, from the highest resolution to the lowest
/// (<c>block_out_channels</c>); the decoder walks them in reverse and upsamples 2x between levels.</param>
/// <param name="LayersPerBlock">Resnet blocks per encoder level (<c>layers_per_block</c>); the decoder uses one more.</param>
/// <param name="NormGroups">Groups of every GroupNorm (<c>norm_num_groups</c>).</param>
/// <param name="ScalingFactor">Latents are divided by this before decoding (<c>scaling_factor</c>).</param>
/// <param name="SampleSize">Image size the VAE was trained at (<c>sample_size</c>); informational.</param>
/// <param name="ShiftFactor">Added to the latents after unscaling (<c>shift_factor</c>); 0 for Stable Diffusion 1/2.</param>
public sealed record VaeConfig(
    int LatentChannels,
    int OutChannels,
    IReadOnlyList<int> BlockOutChannels,
    int LayersPerBlock,
    int NormGroups,
    double ScalingFactor,
    int SampleSize,
    double ShiftFactor = 0)
{
    /// <summary>The name of the diffusers configuration file stored beside the weights.</summary>
    public const string DiffusersConfigFileName = "config.json";

    /// <summary>Stable Diffusion 1.x/2.x VAE (e.g. stabilityai/sd-vae-ft-mse): 4 latent channels, 8x upsampling.</summary>
    public static VaeConfig StableDiffusion { get; } = new(
        LatentChannels: 4, OutChannels: 3, BlockOutChannels: [128, 256, 512, 512],
        LayersPerBlock: 2, NormGroups: 32, ScalingFactor: 0.18215, SampleSize: 512);

    /// <summary>A tiny decoder of the same architecture (2x upsampling) for tests and smoke runs.</summary>
    public static VaeConfig Small { get; } = new(
        LatentChannels: 4, OutChannels: 3, BlockOutChannels: [16, 32],
        LayersPerBlock: 1, NormGroups: 8, ScalingFactor: 0.5, SampleSize: 16);

    /// <summary>How much larger than the latents the decoded images are: 2^(levels-1).</summary>
    public int UpscaleFactor => 1 << (BlockOutChannels.Count - 1);

    /// <summary>Throws <see cref="ArgumentException"/> when the configuration cannot describe a decoder.</summary>
    public void Validate()
    {
        if (LatentChannels < 1) throw new ArgumentException($"LatentChannels must be positive, got {LatentChannels}.");
        if (OutChannels < 1) throw new ArgumentException($"OutChannels must be positive, got {OutChannels}.");
        if (BlockOutChannels is null || BlockOutChannels.Count == 0)
            throw new ArgumentException("BlockOutChannels must list at least one level.");
        if (LayersPerBlock < 1) throw new ArgumentException($"LayersPerBlock must be positive, got {LayersPerBlock}.");
        if (NormGroups < 1) throw new ArgumentException($"NormGroups must be positive, got {NormGroups}.");
        foreach (var channels in BlockOutChannels)
        {
            if (channels < 1 || channels % NormGroups != 0)
                throw new ArgumentException(
                    $"Every entry of BlockOutChannels must be a positive multiple of NormGroups ({NormGroups}), got {channels}.");
        }
        if (!(ScalingFactor > 0) || double.IsInfinity(ScalingFactor))
            throw new ArgumentException($"ScalingFactor must be a positive number, got {ScalingFactor}.");
        if (!double.IsFinite(ShiftFactor)) throw new ArgumentException($"ShiftFactor must be finite, got {ShiftFactor}.");
    }

    /// <summary>
    /// Reads a diffusers <c>AutoencoderKL</c> config.json. Keys it lacks take the diffusers defaults
    /// (scaling_factor 0.18215, shift_factor none); options this decoder does not implement are refused.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not JSON, a value has the wrong type, or it asks for
    /// an architecture this decoder does not implement.</exception>
    public static VaeConfig FromDiffusersJson(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"VAE config file {path} does not exist.", path);
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllText(path));
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException("the top level is not a JSON object");

            RequireSupported(root, "act_fn", "silu");
            RequireSupported(root, "use_post_quant_conv", true);
            RequireSupported(root, "mid_block_add_attention", true);
            if (root.TryGetProperty("up_block_types", out var upTypes)
                && upTypes.EnumerateArray().Any(t => t.GetString() != "UpDecoderBlock2D"))
            {
                throw new InvalidDataException("only up_block_types of UpDecoderBlock2D are supported");
            }

            var config = new VaeConfig(
                LatentChannels: ReadInt(root, "latent_channels", StableDiffusion.LatentChannels),
                OutChannels: ReadInt(root, "out_channels", StableDiffusion.OutChannels),
                BlockOutChannels: root.TryGetProperty("block_out_channels", out var blocks)
                    ? blocks.EnumerateArray().Select(b => b.GetInt32()).ToArray()
                    : StableDiffusion.BlockOutChannels,
                LayersPerBlock: ReadInt(root, "layers_per_block", StableDiffusion.LayersPerBlock),
                NormGroups: ReadInt(root, "norm_num_groups", StableDiffusion.NormGroups),
                ScalingFactor: ReadDouble(root, "scaling_factor", StableDiffusion.ScalingFactor),
                SampleSize: ReadInt(root, "sample_size", StableDiffusion.SampleSize),
                ShiftFactor: ReadDouble(root, "shift_factor", 0));
            config.Validate();
            return config;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or ArgumentException
                                      or InvalidDataException)
        {
            throw new InvalidDataException($"VAE config file {path} is not a usable diffusers AutoencoderKL config: {e.Message}", e);
        }
    }

    private static int ReadInt(JsonElement root, string name, int fallback) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value.GetInt32() : fallback;

    private static double ReadDouble(JsonElement root, string name, double fallback) =>
        root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value.GetDouble() : fallback;

    private static void RequireSupported<T>(JsonElement root, string name, T supported)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return;
        object? actual = supported switch
        {
            string => value.GetString(),
            bool => value.GetBoolean(),
            _ => throw new ArgumentOutOfRangeException(nameof(supported)),
        };
        if (!Equals(actual, supported))
            throw new InvalidDataException(
                $"{name} = {value.GetRawText()} is not supported; this decoder implements only {JsonSerializer.Serialize(supported)}");
    }
}
