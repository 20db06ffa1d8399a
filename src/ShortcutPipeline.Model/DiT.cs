using System.Text.Json.Serialization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace ShortcutPipeline.Model;

// The backbone of the shortcut model: a DiT (Peebles & Xie, 2023) with adaLN-Zero blocks, conditioned on
// the noise level t, the step-size level k = log2(1/d) and the class label (Frans et al. 2024, section 3).
// Layout and names follow facebookresearch/DiT models.py.

/// <summary>The size and conditioning of a <see cref="DiT"/>. Saved as JSON in every checkpoint.</summary>
public sealed record DiTConfig
{
    /// <summary>Preset name, such as "DiT-B/2"; informational.</summary>
    public string Name { get; init; } = "custom";
    /// <summary>Spatial size of the model's input: pixels for pixel-space models, latents for latent-space models.</summary>
    public int InputSize { get; init; } = 32;
    public int InChannels { get; init; } = 1;
    public int PatchSize { get; init; } = 2;
    public int HiddenSize { get; init; } = 384;
    public int Depth { get; init; } = 12;
    public int NumHeads { get; init; } = 6;
    public double MlpRatio { get; init; } = 4.0;
    /// <summary>Number of real classes; the label embedding has one more row, the "null" class for guidance.</summary>
    public int NumClasses { get; init; } = 10;
    /// <summary>Class names, index = label; optional.</summary>
    public IReadOnlyList<string> ClassNames { get; init; } = [];
    /// <summary>The finest step size is 1/DenoiseTimesteps (128 in the paper): levels k = 0..log2(128) = 7.</summary>
    public int DenoiseTimesteps { get; init; } = 128;
    /// <summary>"pixel" (decode by clamping) or "latent" (decode with the Stable Diffusion VAE).</summary>
    public string Space { get; init; } = "pixel";
    /// <summary>
    /// Whether the model learned every step size: true for a shortcut model, false for a flow-matching model, whose
    /// targets are all at the finest level. The trainer sets it from the objective; see <see cref="LevelForBudget"/>.
    /// </summary>
    public bool StepSizeConditioned { get; init; } = true;

    /// <summary>The index of the null class used for classifier-free guidance and label dropout.</summary>
    [JsonIgnore] public int NullClass => NumClasses;
    /// <summary>k of the finest step size: log2(DenoiseTimesteps).</summary>
    [JsonIgnore] public int FinestLevel => StepBudget.LevelOf(DenoiseTimesteps);
    [JsonIgnore] public int TokenCount => InputSize / PatchSize * (InputSize / PatchSize);

    /// <summary>
    /// The step-size level the model is given at every step of a <paramref name="steps"/>-step budget: k = log2(steps)
    /// for a step-size-conditioned (shortcut) model, the finest level for a flow-matching model, which never saw another
    /// (the official code's baseline ignores the step size altogether).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A budget that is not a power of two from 1 to 128.</exception>
    public int LevelForBudget(int steps)
    {
        int level = StepBudget.LevelOf(steps);
        return StepSizeConditioned ? level : FinestLevel;
    }

    public void Validate()
    {
        if (InputSize <= 0 || PatchSize <= 0 || InputSize % PatchSize != 0)
            throw new ArgumentException($"InputSize {InputSize} must be a positive multiple of PatchSize {PatchSize}.");
        if (HiddenSize % NumHeads != 0)
            throw new ArgumentException($"HiddenSize {HiddenSize} must be divisible by NumHeads {NumHeads}.");
        if (HiddenSize % 4 != 0)
            throw new ArgumentException($"HiddenSize {HiddenSize} must be divisible by 4 (2-D sine-cosine positions).");
        if (NumClasses < 1) throw new ArgumentException("NumClasses must be at least 1.");
        StepBudget.LevelOf(DenoiseTimesteps);
        if (Space is not ("pixel" or "latent")) throw new ArgumentException($"Space must be \"pixel\" or \"latent\", not \"{Space}\".");
    }
}

/// <summary>Step budgets and their levels: a budget of 2^k steps has step size d = 1/2^k and level k.</summary>
public static class StepBudget
{
    public const int Max = 128;

    public static bool IsValid(int steps) => steps >= 1 && steps <= Max && (steps & (steps - 1)) == 0;

    /// <summary>k = log2(steps), for steps in {1, 2, 4, ..., 128}.</summary>
    public static int LevelOf(int steps) => IsValid(steps)
        ? System.Numerics.BitOperations.Log2((uint)steps)
        : throw new ArgumentOutOfRangeException(nameof(steps), steps, "A step budget is a power of two from 1 to 128.");

}

/// <summary>Sine-cosine features of a scalar per sample, as in DiT's timestep embedding.</summary>
public static class Sinusoidal
{
    public static Tensor Embed(Tensor values, int dim, double maxPeriod = 10000)
    {
        int half = dim / 2;
        using var scope = NewDisposeScope();
        var freqs = exp(-Math.Log(maxPeriod) * arange(half, dtype: float32, device: values.device) / half);
        var args = values.to(float32).unsqueeze(1) * freqs.unsqueeze(0);
        return cat([cos(args), sin(args)], dim: 1).MoveToOuterDisposeScope();
    }

    /// <summary>Fixed 2-D sine-cosine position embedding (1, gridSize*gridSize, dim).</summary>
    public static Tensor Positions2D(int dim, int gridSize)
    {
        using var scope = NewDisposeScope();
        var coords = arange(gridSize, dtype: float64);
        int quarter = dim / 4;
        var omega = 1.0 / pow(10000.0, arange(quarter, dtype: float64) / quarter);
        Tensor Axis(Tensor pos) // (N) -> (N, dim/2)
        {
            var outer = pos.unsqueeze(1) * omega.unsqueeze(0);
            return cat([sin(outer), cos(outer)], dim: 1);
        }
        var rows = coords.repeat_interleave(gridSize);   // h index of each token
        var cols = coords.repeat(gridSize);              // w index of each token
        return cat([Axis(cols), Axis(rows)], dim: 1).to(float32).unsqueeze(0).MoveToOuterDisposeScope();
    }
}

/// <summary>Embeds the noise level t in [0, 1] (t = 0 is noise, t = 1 is data) into the hidden size.</summary>
public class TimestepEmbedder : Module<Tensor, Tensor>
{
    private readonly Sequential mlp;
    private readonly int frequencySize;
    private readonly double inputScale;

    /// <param name="inputScale">t is scaled by 1000 so that DiT's frequencies resolve the whole [0, 1] range.</param>
    public TimestepEmbedder(int hiddenSize, int frequencySize = 256) : this(nameof(TimestepEmbedder), hiddenSize, frequencySize, 1000) { }

    protected TimestepEmbedder(string name, int hiddenSize, int frequencySize, double inputScale) : base(name)
    {
        this.frequencySize = frequencySize;
        this.inputScale = inputScale;
        mlp = Sequential(("0", Linear(frequencySize, hiddenSize)), ("1", SiLU()), ("2", Linear(hiddenSize, hiddenSize)));
        RegisterComponents();
    }

    public override Tensor forward(Tensor values)
    {
        using var scope = NewDisposeScope();
        var features = Sinusoidal.Embed(values * inputScale, frequencySize);
        var weight = ((Linear)mlp[0]).weight!;
        return mlp.forward(features.to(weight.dtype)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Embeds the step-size level k = log2(1/d), an integer 0..7 (d = 1 ... 1/128): the shortcut model's second
/// condition. Same sinusoidal features and MLP as <see cref="TimestepEmbedder"/>, on the integer itself.
/// </summary>
public sealed class StepSizeEmbedder : TimestepEmbedder
{
    public StepSizeEmbedder(int hiddenSize, int frequencySize = 256) : base(nameof(StepSizeEmbedder), hiddenSize, frequencySize, 1) { }
}

/// <summary>Class label embedding with one extra row, the null class, for classifier-free guidance.</summary>
public sealed class LabelEmbedder : Module<Tensor, Tensor>
{
    private readonly Embedding embedding_table;

    public LabelEmbedder(int numClasses, int hiddenSize) : base(nameof(LabelEmbedder))
    {
        embedding_table = Embedding(numClasses + 1, hiddenSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor labels) => embedding_table.forward(labels);
}

/// <summary>Non-overlapping patches to tokens: (B, C, H, W) -> (B, N, hidden).</summary>
public sealed class PatchEmbed : Module<Tensor, Tensor>
{
    private readonly Conv2d proj;

    public PatchEmbed(int inChannels, int hiddenSize, int patchSize) : base(nameof(PatchEmbed))
    {
        proj = Conv2d(inChannels, hiddenSize, kernel_size: patchSize, stride: patchSize);
        RegisterComponents();
    }

    /// <summary>The weights' type (float32, or bfloat16 for CUDA sampling and training): the type inputs are cast to.</summary>
    public ScalarType WeightType => proj.weight!.dtype;

    public override Tensor forward(Tensor x)
    {
        using var projected = proj.forward(x);
        using var flat = projected.flatten(2);
        return flat.transpose(1, 2).contiguous();
    }
}

/// <summary>Multi-head self-attention over the tokens.</summary>
public sealed class Attention : Module<Tensor, Tensor>
{
    private readonly Linear qkv;
    private readonly Linear proj;
    private readonly int numHeads;

    public Attention(int hiddenSize, int numHeads) : base(nameof(Attention))
    {
        this.numHeads = numHeads;
        qkv = Linear(hiddenSize, hiddenSize * 3);
        proj = Linear(hiddenSize, hiddenSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], n = x.shape[1], c = x.shape[2];
        var heads = qkv.forward(x).reshape(b, n, 3, numHeads, c / numHeads).permute(2, 0, 3, 1, 4);
        var attended = functional.scaled_dot_product_attention(heads[0], heads[1], heads[2]);
        return proj.forward(attended.transpose(1, 2).reshape(b, n, c)).MoveToOuterDisposeScope();
    }
}

/// <summary>A transformer block with adaptive layer norm zero (adaLN-Zero) conditioning.</summary>
public sealed class DiTBlock : Module<Tensor, Tensor, Tensor>
{
    private readonly LayerNorm norm1;
    private readonly Attention attn;
    private readonly LayerNorm norm2;
    private readonly Sequential mlp;
    private readonly Sequential adaLN_modulation;

    public DiTBlock(int hiddenSize, int numHeads, double mlpRatio) : base(nameof(DiTBlock))
    {
        int mlpHidden = (int)(hiddenSize * mlpRatio);
        norm1 = LayerNorm(hiddenSize, eps: 1e-6, elementwise_affine: false);
        attn = new Attention(hiddenSize, numHeads);
        norm2 = LayerNorm(hiddenSize, eps: 1e-6, elementwise_affine: false);
        mlp = Sequential(("fc1", Linear(hiddenSize, mlpHidden)), ("act", GELU(approximate: TorchSharp.Modules.GELU.Approximate.tanh)), ("fc2", Linear(mlpHidden, hiddenSize)));
        adaLN_modulation = Sequential(("0", SiLU()), ("1", Linear(hiddenSize, 6 * hiddenSize)));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor c)
    {
        using var scope = NewDisposeScope();
        var m = adaLN_modulation.forward(c).chunk(6, dim: 1);
        var (shiftMsa, scaleMsa, gateMsa, shiftMlp, scaleMlp, gateMlp) = (m[0], m[1], m[2], m[3], m[4], m[5]);
        x = x + gateMsa.unsqueeze(1) * attn.forward(Modulate(norm1.forward(x), shiftMsa, scaleMsa));
        x = x + gateMlp.unsqueeze(1) * mlp.forward(Modulate(norm2.forward(x), shiftMlp, scaleMlp));
        return x.MoveToOuterDisposeScope();
    }

    internal static Tensor Modulate(Tensor x, Tensor shift, Tensor scale) => x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1);

    internal void ZeroModulation() => ZeroLinear((Linear)adaLN_modulation[1]);

    internal static void ZeroLinear(Linear linear)
    {
        using var _ = no_grad();
        init.zeros_(linear.weight);
        if (linear.bias is not null) init.zeros_(linear.bias);
    }
}

/// <summary>The last layer: adaLN modulation, then a linear map from tokens to patches of the velocity.</summary>
public sealed class FinalLayer : Module<Tensor, Tensor, Tensor>
{
    private readonly LayerNorm norm_final;
    private readonly Linear linear;
    private readonly Sequential adaLN_modulation;

    public FinalLayer(int hiddenSize, int patchSize, int outChannels) : base(nameof(FinalLayer))
    {
        norm_final = LayerNorm(hiddenSize, eps: 1e-6, elementwise_affine: false);
        linear = Linear(hiddenSize, patchSize * patchSize * outChannels);
        adaLN_modulation = Sequential(("0", SiLU()), ("1", Linear(hiddenSize, 2 * hiddenSize)));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor c)
    {
        using var scope = NewDisposeScope();
        var m = adaLN_modulation.forward(c).chunk(2, dim: 1);
        return linear.forward(DiTBlock.Modulate(norm_final.forward(x), m[0], m[1])).MoveToOuterDisposeScope();
    }

    internal void ZeroInit()
    {
        DiTBlock.ZeroLinear((Linear)adaLN_modulation[1]);
        DiTBlock.ZeroLinear(linear);
    }
}

/// <summary>
/// The shortcut model s(x_t, t, k, y): predicts the velocity that moves x_t toward the data over a step of size
/// d = 1/2^k. With k = 7 (d = 1/128) it is a flow-matching model; coarser levels are trained by self-consistency.
/// </summary>
public sealed class DiT : Module<Tensor, Tensor, Tensor, Tensor, Tensor>
{
    private readonly PatchEmbed x_embedder;
    private readonly TimestepEmbedder t_embedder;
    private readonly StepSizeEmbedder dt_embedder;
    private readonly LabelEmbedder y_embedder;
    // Fixed 2-D sine-cosine positions, one copy per device and dtype; not a parameter, not saved.
    private readonly Dictionary<(DeviceType, int, ScalarType), Tensor> positions = [];
    private readonly ModuleList<DiTBlock> blocks;
    private readonly FinalLayer final_layer;

    public DiTConfig Config { get; }

    /// <param name="seed">Seeds the initial weights (through torch's global generator, under a lock).</param>
    public DiT(DiTConfig config, long? seed = null) : base(nameof(DiT))
    {
        config.Validate();
        Config = config;
        LibTorchSettings.DisableNnpack();
        lock (LibTorchSettings.GlobalRandomLock)
        {
            if (seed is { } s) torch.manual_seed(s);
            x_embedder = new PatchEmbed(config.InChannels, config.HiddenSize, config.PatchSize);
            t_embedder = new TimestepEmbedder(config.HiddenSize);
            dt_embedder = new StepSizeEmbedder(config.HiddenSize);
            y_embedder = new LabelEmbedder(config.NumClasses, config.HiddenSize);
            blocks = new ModuleList<DiTBlock>(Enumerable.Range(0, config.Depth)
                .Select(_ => new DiTBlock(config.HiddenSize, config.NumHeads, config.MlpRatio)).ToArray());
            final_layer = new FinalLayer(config.HiddenSize, config.PatchSize, config.InChannels);
            RegisterComponents();
            InitializeWeights();
        }
    }

    // DiT's initialisation: Xavier-uniform linears, normal(0.02) embeddings, zero adaLN and output layers.
    private void InitializeWeights()
    {
        using var _ = no_grad();
        foreach (var (_, module) in named_modules())
        {
            if (module is Linear linear)
            {
                init.xavier_uniform_(linear.weight);
                if (linear.bias is not null) init.zeros_(linear.bias);
            }
        }
        var patchWeight = x_embedder.get_parameter("proj.weight")!;
        using (var flat = patchWeight.view(patchWeight.shape[0], -1)) init.xavier_uniform_(flat);
        init.zeros_(x_embedder.get_parameter("proj.bias")!);
        init.normal_(y_embedder.get_parameter("embedding_table.weight")!, std: 0.02);
        foreach (var embedder in new TimestepEmbedder[] { t_embedder, dt_embedder })
        {
            init.normal_(embedder.get_parameter("mlp.0.weight")!, std: 0.02);
            init.normal_(embedder.get_parameter("mlp.2.weight")!, std: 0.02);
        }
        foreach (var block in blocks) block.ZeroModulation();
        final_layer.ZeroInit();
    }

    /// <param name="x">x_t, (B, C, H, W).</param>
    /// <param name="t">noise level per sample in [0, 1], (B).</param>
    /// <param name="level">step-size level k per sample, (B), integers 0..7.</param>
    /// <param name="labels">class per sample, (B), int64; <see cref="DiTConfig.NullClass"/> for none.</param>
    /// <returns>the velocity, (B, C, H, W).</returns>
    public override Tensor forward(Tensor x, Tensor t, Tensor level, Tensor labels)
    {
        using var scope = NewDisposeScope();
        x = x.to(x_embedder.WeightType);   // callers hold float32 samples; the weights may be bfloat16
        var tokens = x_embedder.forward(x) + PositionsFor(x);
        var c = t_embedder.forward(t) + dt_embedder.forward(level) + y_embedder.forward(labels);
        foreach (var block in blocks) tokens = block.forward(tokens, c);
        return Unpatchify(final_layer.forward(tokens, c)).MoveToOuterDisposeScope();
    }

    private Tensor PositionsFor(Tensor x)
    {
        var key = (x.device_type, x.device_index, x.dtype);
        lock (positions)
        {
            if (!positions.TryGetValue(key, out var cached))
            {
                var cpu = Sinusoidal.Positions2D(Config.HiddenSize, Config.InputSize / Config.PatchSize);
                cached = cpu.to(x.dtype, x.device).DetachFromDisposeScope();
                if (!ReferenceEquals(cached, cpu)) cpu.Dispose();
                positions[key] = cached;
            }
            return cached;
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var tensor in positions.Values) tensor.Dispose();
            positions.Clear();
        }
        base.Dispose(disposing);
    }

    // (B, N, p*p*C) -> (B, C, H, W)
    private Tensor Unpatchify(Tensor x)
    {
        int p = Config.PatchSize, c = Config.InChannels, h = Config.InputSize / p;
        return x.reshape(x.shape[0], h, h, p, p, c).permute(0, 5, 1, 3, 2, 4).reshape(x.shape[0], c, h * p, h * p);
    }

    public long ParameterCount() => parameters().Sum(p => p.numel());

    /// <summary>
    /// A new DiT of this configuration on <paramref name="device"/> in <paramref name="type"/> (the EMA model, the
    /// bfloat16 working copy), its parameters paired by name with this one's; <see cref="CopyParameters"/> fills it.
    /// </summary>
    internal (DiT Copy, ParameterPair[] Pairs) Mirror(Device device, ScalarType type)
    {
        var copy = new DiT(Config);
        copy.to(device).to(type);
        var mirrored = copy.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        return (copy, named_parameters().Select(p => new ParameterPair(p.parameter, mirrored[p.name])).ToArray());
    }

    /// <summary>Copies each pair's source weights into its mirror.</summary>
    internal static void CopyParameters(IEnumerable<ParameterPair> pairs)
    {
        using var _ = no_grad();
        foreach (var (source, mirror) in pairs) mirror.copy_(source);
    }

    /// <summary>Approximate forward FLOPs per image (2 per multiply-add), for throughput reports.</summary>
    public double ForwardFlopsPerImage()
    {
        double n = Config.TokenCount, h = Config.HiddenSize, mlp = h * Config.MlpRatio;
        double perBlock = n * (3 * h * h + h * h + 2 * h * mlp) + 2 * n * n * h + 6 * h * h;
        double embed = n * Config.PatchSize * Config.PatchSize * Config.InChannels * h * 2 + 2 * 2 * (256 * h + h * h);
        return 2 * (Config.Depth * perBlock + embed + n * h * Config.PatchSize * Config.PatchSize * Config.InChannels + 2 * h * h);
    }

    // ---- presets: one factory per size, as DiT's models.py ----

    /// <summary>DiT-XL/2: hidden 1152, depth 28, 16 heads, patch 2 (latent 4x32x32 for 256px images).</summary>
    public static DiTConfig XL2(int inputSize = 32, int inChannels = 4, int numClasses = 1000) =>
        new() { Name = "DiT-XL/2", InputSize = inputSize, InChannels = inChannels, PatchSize = 2, HiddenSize = 1152, Depth = 28, NumHeads = 16, NumClasses = numClasses, Space = inChannels == 4 ? "latent" : "pixel" };

    /// <summary>DiT-B/2: hidden 768, depth 12, 12 heads, patch 2.</summary>
    public static DiTConfig B2(int inputSize = 32, int inChannels = 4, int numClasses = 1000) =>
        new() { Name = "DiT-B/2", InputSize = inputSize, InChannels = inChannels, PatchSize = 2, HiddenSize = 768, Depth = 12, NumHeads = 12, NumClasses = numClasses, Space = inChannels == 4 ? "latent" : "pixel" };

    /// <summary>DiT-S/4: hidden 384, depth 12, 6 heads, patch 4 (about 33M parameters).</summary>
    public static DiTConfig S4(int inputSize = 32, int inChannels = 1, int numClasses = 10) =>
        new() { Name = "DiT-S/4", InputSize = inputSize, InChannels = inChannels, PatchSize = 4, HiddenSize = 384, Depth = 12, NumHeads = 6, NumClasses = numClasses };

    /// <summary>CPU-sized: hidden 192, depth 6, 6 heads, patch 4 (about 3M parameters).</summary>
    public static DiTConfig Small(int inputSize = 32, int inChannels = 1, int numClasses = 10) =>
        new() { Name = "DiT-Small/4", InputSize = inputSize, InChannels = inChannels, PatchSize = 4, HiddenSize = 192, Depth = 6, NumHeads = 6, NumClasses = numClasses };

    /// <summary>CPU-sized, the embedded default model: hidden 128, depth 6, 4 heads, patch 4 at 28x28 (about 1.7M parameters).</summary>
    public static DiTConfig Mini(int inputSize = 28, int inChannels = 1, int numClasses = 10) =>
        new() { Name = "DiT-Mini/4", InputSize = inputSize, InChannels = inChannels, PatchSize = 4, HiddenSize = 128, Depth = 6, NumHeads = 4, NumClasses = numClasses };

    /// <summary>CPU-sized for tests: hidden 96, depth 4, 4 heads, patch 2 (well under 1M parameters).</summary>
    public static DiTConfig Tiny(int inputSize = 16, int inChannels = 1, int numClasses = 10) =>
        new() { Name = "DiT-Tiny/2", InputSize = inputSize, InChannels = inChannels, PatchSize = 2, HiddenSize = 96, Depth = 4, NumHeads = 4, NumClasses = numClasses };

    /// <summary>
    /// A preset's default configuration by name (case-insensitive): DiT-XL/2, DiT-B/2, DiT-S/4, DiT-Small/4,
    /// DiT-Mini/4, DiT-Tiny/2. Adjust the data-dependent fields with a <c>with</c> expression.
    /// </summary>
    public static DiTConfig Preset(string name) => name.ToLowerInvariant() switch
    {
        "dit-xl/2" or "xl2" => XL2(),
        "dit-b/2" or "b2" => B2(),
        "dit-s/4" or "s4" => S4(),
        "dit-small/4" or "small" => Small(),
        "dit-mini/4" or "mini" => Mini(),
        "dit-tiny/2" or "tiny" => Tiny(),
        _ => throw new ArgumentException($"Unknown model preset \"{name}\". Known presets: {string.Join(", ", PresetNames)}."),
    };

    public static IReadOnlyList<string> PresetNames { get; } = ["DiT-XL/2", "DiT-B/2", "DiT-S/4", "DiT-Small/4", "DiT-Mini/4", "DiT-Tiny/2"];
}

/// <summary>A parameter of one DiT and the same-named parameter of its mirror (<see cref="DiT.Mirror"/>).</summary>
internal readonly record struct ParameterPair(TorchSharp.Modules.Parameter Source, TorchSharp.Modules.Parameter Mirror);
