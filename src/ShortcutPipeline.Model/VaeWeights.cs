using System.Text.RegularExpressions;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model;

/// <summary>
/// Loads the decoder half of a diffusers <c>AutoencoderKL</c> safetensors file into a <see cref="VaeDecoder"/>:
/// picks the <c>decoder.*</c> and <c>post_quant_conv.*</c> tensors, renames pre-0.14 attention names, checks
/// names and shapes against the module from the file header before reading any tensor data, then copies.
/// </summary>
internal static partial class VaeWeights
{
    private static readonly string[] DecoderPrefixes = ["decoder.", "post_quant_conv."];

    /// <summary>diffusers before 0.14 called the attention projections query/key/value/proj_attn.</summary>
    private static readonly Dictionary<string, string> OldAttentionNames = new()
    {
        ["query"] = "to_q",
        ["key"] = "to_k",
        ["value"] = "to_v",
        ["proj_attn"] = "to_out.0",
    };

    [GeneratedRegex(@"^(?<block>decoder\.mid_block\.attentions\.\d+)\.(?<old>query|key|value|proj_attn)\.(?<leaf>weight|bias)$")]
    private static partial Regex OldAttentionName();

    /// <summary>The module name a file tensor loads into (the name itself unless it is an old attention name).</summary>
    public static string ModuleName(string fileName)
    {
        var match = OldAttentionName().Match(fileName);
        return match.Success
            ? $"{match.Groups["block"].Value}.{OldAttentionNames[match.Groups["old"].Value]}.{match.Groups["leaf"].Value}"
            : fileName;
    }

    public static void Load(VaeDecoder vae, string path)
    {
        var index = SafetensorsFile.ReadHeader(path).Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var parameters = vae.state_dict();

        // File name of each decoder tensor in the file, keyed by the module name it loads into.
        var fileNames = new Dictionary<string, string>(StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var fileName in index.Keys.Where(name => DecoderPrefixes.Any(name.StartsWith)).Order(StringComparer.Ordinal))
        {
            string moduleName = ModuleName(fileName);
            if (!fileNames.TryAdd(moduleName, fileName))
                problems.Add($"both '{fileNames[moduleName]}' and '{fileName}' hold '{moduleName}'");
            else if (!parameters.ContainsKey(moduleName))
                problems.Add($"unexpected tensor '{fileName}' (not part of this decoder architecture)");
        }
        foreach (var (name, parameter) in parameters)
        {
            if (!fileNames.TryGetValue(name, out var fileName))
            {
                problems.Add($"missing tensor '{name}'");
                continue;
            }
            long[] fileShape = index[fileName].Shape;
            if (!fileShape.SequenceEqual(parameter.shape))
                problems.Add($"tensor '{fileName}' has shape [{string.Join(", ", fileShape)}], the decoder expects [{string.Join(", ", parameter.shape)}]");
        }
        if (problems.Count > 0)
        {
            throw new InvalidDataException(
                $"VAE weights file {path} does not match the decoder configuration ({string.Join("; ", problems.Take(10))}" +
                (problems.Count > 10 ? $"; and {problems.Count - 10} more)." : ")."));
        }

        // The loaded tensors (and dtype conversions) are disposed with the scope; the parameters live on.
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var wanted = fileNames.Values.ToHashSet(StringComparer.Ordinal);
        var tensors = SafetensorsFile.ReadTensors(path, wanted.Contains);
        foreach (var (moduleName, fileName) in fileNames)
        {
            var target = parameters[moduleName];
            target.copy_(tensors[fileName].to(target.dtype, target.device));
        }
    }
}
