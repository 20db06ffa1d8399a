using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using ShortcutPipeline.Contracts;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model;

/// <summary>What a checkpoint's metadata says, read without loading its tensors.</summary>
public sealed record CheckpointInfo(
    DiTConfig Config, TrainingConfig? Training, long Step, IReadOnlyDictionary<string, double> Metrics,
    bool HasTrainingState, string Kind);

/// <summary>
/// Checkpoints as safetensors files. A training checkpoint holds the weights ("model."), the EMA weights ("ema."),
/// the AdamW state ("optimizer.{i}.exp_avg", "optimizer.{i}.exp_avg_sq", "optimizer.{i}.step"), and as JSON metadata
/// the model config, the training options, the step and metrics; a run resumed from it continues exactly. A sampling
/// checkpoint holds only the EMA weights (optionally in bfloat16 or float16): what the workers load.
/// </summary>
public static class Checkpoint
{
    public const string TrainingKind = "shortcut-pipeline/training-checkpoint/1";
    public const string SamplingKind = "shortcut-pipeline/sampling-checkpoint/1";

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static void Save(Trainer trainer, Stream stream, IReadOnlyDictionary<string, double>? metrics = null)
    {
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, parameter) in trainer.Model.named_parameters()) tensors["model." + name] = parameter;
        foreach (var (name, parameter) in trainer.Ema.Model.named_parameters()) tensors["ema." + name] = parameter;
        var steps = new List<Tensor>();
        int i = 0;
        foreach (var state in OptimizerStates(trainer.Optimizer))
        {
            tensors[$"optimizer.{i}.exp_avg"] = state.exp_avg;
            tensors[$"optimizer.{i}.exp_avg_sq"] = state.exp_avg_sq;
            var step = tensor(state.step);
            steps.Add(step);
            tensors[$"optimizer.{i}.step"] = step;
            i++;
        }
        try
        {
            SafetensorsFile.Write(stream, tensors, Metadata(TrainingKind, trainer.Config, trainer.Options, trainer.Step, metrics));
        }
        finally
        {
            foreach (var step in steps) step.Dispose();
        }
    }

    public static void Save(Trainer trainer, string path, IReadOnlyDictionary<string, double>? metrics = null) =>
        AtomicFile.Write(path, stream => Save(trainer, stream, metrics));

    /// <summary>Writes only the EMA weights, in <paramref name="dtype"/>: the file a worker samples from.</summary>
    public static void ExportForSampling(Trainer trainer, Stream stream, ScalarType dtype = ScalarType.Float32,
        IReadOnlyDictionary<string, double>? metrics = null)
    {
        var tensors = trainer.Ema.Model.named_parameters().ToDictionary(p => "ema." + p.name, p => p.parameter.detach().to(dtype));
        try
        {
            SafetensorsFile.Write(stream, tensors, Metadata(SamplingKind, trainer.Config, trainer.Options, trainer.Step, metrics));
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    public static void ExportForSampling(Trainer trainer, string path, ScalarType dtype = ScalarType.Float32,
        IReadOnlyDictionary<string, double>? metrics = null) =>
        AtomicFile.Write(path, stream => ExportForSampling(trainer, stream, dtype, metrics));

    public static CheckpointInfo ReadInfo(Stream stream) => Info(SafetensorsFile.ReadHeader(stream));

    public static CheckpointInfo ReadInfo(string path)
    {
        using var file = File.OpenRead(path);
        return ReadInfo(file);
    }

    /// <summary>
    /// Loads a model to sample from: the EMA weights when the file has them, else the raw weights. The model is
    /// moved to <paramref name="device"/> and cast to <paramref name="dtype"/> (bfloat16 on CUDA, say).
    /// </summary>
    public static DiT LoadForSampling(Stream stream, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        var header = SafetensorsFile.ReadHeader(stream);
        var info = Info(header);
        string prefix = header.Tensors.Any(t => t.Name.StartsWith("ema.", StringComparison.Ordinal)) ? "ema." : "model.";
        stream.Seek(0, SeekOrigin.Begin);
        var tensors = SafetensorsFile.ReadTensors(stream, name => name.StartsWith(prefix, StringComparison.Ordinal));
        var model = new DiT(info.Config);
        try
        {
            LoadWeights(model, tensors, prefix);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
        model.to(device ?? CPU).to(dtype);
        model.eval();
        return model;
    }

    public static DiT LoadForSampling(string path, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        using var file = File.OpenRead(path);
        return LoadForSampling(file, device, dtype);
    }

    /// <summary>Rebuilds a trainer from a training checkpoint: weights, EMA, optimizer state and step.</summary>
    public static Trainer Resume(Stream stream, Device? device = null)
    {
        var header = SafetensorsFile.ReadHeader(stream);
        var info = Info(header);
        if (!info.HasTrainingState || info.Training is null)
            throw new InvalidDataException("This checkpoint has no training state (a sampling export?): it cannot be resumed.");
        stream.Seek(0, SeekOrigin.Begin);
        var tensors = SafetensorsFile.ReadTensors(stream);
        var trainer = new Trainer(info.Config, info.Training, device);
        try
        {
            LoadWeights(trainer.Model, tensors, "model.");
            LoadWeights(trainer.Ema.Model, tensors, "ema.");
            var states = OptimizerStates(trainer.Optimizer).ToList();
            using (no_grad())
            {
                for (int i = 0; i < states.Count; i++)
                {
                    states[i].exp_avg.copy_(Required(tensors, $"optimizer.{i}.exp_avg"));
                    states[i].exp_avg_sq.copy_(Required(tensors, $"optimizer.{i}.exp_avg_sq"));
                    states[i].step = Required(tensors, $"optimizer.{i}.step").item<long>();
                }
            }
            trainer.Step = info.Step;
            return trainer;
        }
        catch
        {
            trainer.Dispose();
            throw;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    public static Trainer Resume(string path, Device? device = null)
    {
        using var file = File.OpenRead(path);
        return Resume(file, device);
    }

    private static IEnumerable<AdamW.State> OptimizerStates(AdamW optimizer) =>
        optimizer.state_dict().State.Cast<AdamW.State>();

    private static void LoadWeights(DiT model, Dictionary<string, Tensor> tensors, string prefix)
    {
        using var _ = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            var source = Required(tensors, prefix + name);
            if (!source.shape.SequenceEqual(parameter.shape))
                throw new InvalidDataException($"Checkpoint tensor \"{prefix + name}\" has shape [{string.Join(", ", source.shape)}]; the model expects [{string.Join(", ", parameter.shape)}].");
            parameter.copy_(source);
        }
    }

    private static Tensor Required(Dictionary<string, Tensor> tensors, string name) =>
        tensors.TryGetValue(name, out var t) ? t : throw new InvalidDataException($"The checkpoint has no tensor \"{name}\".");

    private static Dictionary<string, string> Metadata(string kind, DiTConfig config, TrainingConfig options, long step,
        IReadOnlyDictionary<string, double>? metrics) => new()
        {
            ["format"] = kind,
            ["config"] = JsonSerializer.Serialize(config, Json),
            ["training"] = JsonSerializer.Serialize(options.ToTrainingConfig(), Json),
            ["step"] = step.ToString(CultureInfo.InvariantCulture),
            ["metrics"] = JsonSerializer.Serialize(metrics ?? new Dictionary<string, double>(), Json),
        };

    // The training config of the metadata. Checkpoints written before the one TrainingConfig record nest the objective's
    // settings under "shortcut" ({ "source", "bootstrapFraction", "bootstrapCfgScale", "labelDropout", "clip" }): lifted here.
    private static TrainingConfig? ReadTraining(string json)
    {
        if (JsonNode.Parse(json) is JsonObject training && training["shortcut"] is JsonObject nested)
        {
            training.Remove("shortcut");
            foreach (var (name, value) in nested.ToList())
            {
                nested.Remove(name);
                training[name switch { "source" => "bootstrapSource", "clip" => "targetClip", _ => name }] = value;
            }
            json = training.ToJsonString();
        }
        return JsonSerializer.Deserialize<TrainingConfig>(json, Json);
    }

    // Whether a JSON object has a property, matched as the serializer reads it (case-insensitively).
    private static bool HasProperty(string json, string name)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.ValueKind == JsonValueKind.Object &&
               document.RootElement.EnumerateObject().Any(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
    }

    private static CheckpointInfo Info(SafetensorsFile.Header header)
    {
        var m = header.Metadata;
        string kind = m.GetValueOrDefault("format") ?? "";
        if (kind is not (TrainingKind or SamplingKind))
            throw new InvalidDataException($"Not a ShortcutPipeline checkpoint: its safetensors metadata has format \"{kind}\".");
        try
        {
            var config = JsonSerializer.Deserialize<DiTConfig>(m["config"], Json) ?? throw new InvalidDataException("The checkpoint's config is empty.");
            config.Validate();
            var training = m.TryGetValue("training", out var t) ? ReadTraining(t) : null;
            if (!HasProperty(m["config"], nameof(DiTConfig.StepSizeConditioned)))   // written before the config said it
                config = config with { StepSizeConditioned = training?.Objective != TrainingObjective.FlowMatching };
            var metrics = m.TryGetValue("metrics", out var mm) ? JsonSerializer.Deserialize<Dictionary<string, double>>(mm, Json) ?? [] : [];
            long step = long.Parse(m.GetValueOrDefault("step") ?? "0", CultureInfo.InvariantCulture);
            bool hasState = header.Tensors.Any(e => e.Name.StartsWith("optimizer.", StringComparison.Ordinal));
            return new CheckpointInfo(config, training, step, metrics, hasState, kind);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or FormatException or ArgumentException)
        {
            throw new InvalidDataException($"The checkpoint's metadata is invalid: {e.Message}", e);
        }
    }
}

/// <summary>
/// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a JSON header naming
/// each tensor's dtype, shape and byte range, an optional "__metadata__" map of strings, then the raw data.
/// Written here with metadata (TorchSharp.PyBridge's writer has none), so a checkpoint carries its config.
/// </summary>
public static class SafetensorsFile
{
    private const string MetadataKey = "__metadata__";
    private const long MaxHeaderBytes = 100_000_000;

    public sealed record TensorEntry(string Name, string DType, long[] Shape, long Begin, long End);

    public sealed record Header(IReadOnlyDictionary<string, string> Metadata, IReadOnlyList<TensorEntry> Tensors, long DataStart);

    private static readonly Dictionary<ScalarType, string> DTypeNames = new()
    {
        [ScalarType.Float32] = "F32", [ScalarType.Float16] = "F16", [ScalarType.BFloat16] = "BF16", [ScalarType.Float64] = "F64",
        [ScalarType.Int64] = "I64", [ScalarType.Int32] = "I32", [ScalarType.Int16] = "I16", [ScalarType.Int8] = "I8",
        [ScalarType.Byte] = "U8", [ScalarType.Bool] = "BOOL",
    };

    /// <summary>Writes the tensors (in name order) and the metadata.</summary>
    public static void Write(Stream stream, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var names = tensors.Keys.Order(StringComparer.Ordinal).ToList();
        var header = new Dictionary<string, object>();
        if (metadata is { Count: > 0 }) header[MetadataKey] = metadata;
        long offset = 0;
        foreach (var name in names)
        {
            var tensor = tensors[name];
            if (!DTypeNames.TryGetValue(tensor.dtype, out var dtype))
                throw new NotSupportedException($"Tensor \"{name}\" has dtype {tensor.dtype}, which safetensors writing does not support here.");
            long bytes = tensor.numel() * tensor.ElementSize;
            header[name] = new { dtype, shape = tensor.shape, data_offsets = new[] { offset, offset + bytes } };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int padding = (8 - json.Length % 8) % 8;   // keep the data 8-byte aligned, as the reference writer does
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)(json.Length + padding));
        stream.Write(length);
        stream.Write(json);
        for (int i = 0; i < padding; i++) stream.WriteByte((byte)' ');
        foreach (var name in names)
        {
            using var cpu = tensors[name].detach().cpu().contiguous();
            cpu.WriteBytesToStream(stream);
        }
    }

    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        AtomicFile.Write(path, stream => Write(stream, tensors, metadata));

    /// <summary>Reads the header only: metadata and the tensor table.</summary>
    public static Header ReadHeader(Stream stream)
    {
        Span<byte> lengthBytes = stackalloc byte[8];
        if (stream.ReadAtLeast(lengthBytes, 8, throwOnEndOfStream: false) < 8)
            throw new InvalidDataException("Not a safetensors file: it is shorter than the 8-byte header length.");
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (length == 0 || length > MaxHeaderBytes || (stream.CanSeek && (long)length > stream.Length - 8))
            throw new InvalidDataException($"Not a safetensors file: the header length {length} is out of range.");
        var json = new byte[length];
        try { stream.ReadExactly(json); }
        catch (EndOfStreamException) { throw new InvalidDataException("The safetensors file ends inside its header."); }

        JsonDocument document;
        try { document = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new InvalidDataException($"The safetensors header is not valid JSON: {e.Message}"); }
        using (document)
        {
            var metadata = new Dictionary<string, string>();
            var entries = new List<TensorEntry>();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == MetadataKey)
                {
                    foreach (var item in property.Value.EnumerateObject()) metadata[item.Name] = item.Value.GetString() ?? "";
                    continue;
                }
                var value = property.Value;
                var offsets = value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                entries.Add(new TensorEntry(property.Name, value.GetProperty("dtype").GetString()!,
                    value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray(), offsets[0], offsets[1]));
            }
            return new Header(metadata, entries, 8 + (long)length);
        }
    }

    public static Header ReadHeader(string path)
    {
        using var file = OpenRead(path);
        try { return ReadHeader(file); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
    }

    private static FileStream OpenRead(string path) => File.Exists(path)
        ? File.OpenRead(path)
        : throw new FileNotFoundException($"Safetensors file {path} does not exist.", path);

    /// <summary>Reads the tensors whose names pass <paramref name="include"/> (all when null), on the CPU.</summary>
    public static Dictionary<string, Tensor> ReadTensors(Stream stream, Func<string, bool>? include = null)
    {
        var header = ReadHeader(stream);
        var result = new Dictionary<string, Tensor>();
        foreach (var entry in header.Tensors.OrderBy(e => e.Begin))
        {
            if (include is not null && !include(entry.Name)) continue;
            var dtype = DTypeNames.FirstOrDefault(p => p.Value == entry.DType).Key;
            if (!DTypeNames.ContainsValue(entry.DType))
                throw new InvalidDataException($"Tensor \"{entry.Name}\" has the unsupported dtype {entry.DType}.");
            var tensor = empty(entry.Shape, dtype);
            long expected = tensor.numel() * tensor.ElementSize;
            if (entry.End - entry.Begin != expected)
                throw new InvalidDataException($"Tensor \"{entry.Name}\" has {entry.End - entry.Begin} bytes for shape [{string.Join(", ", entry.Shape)}] of {entry.DType}; expected {expected}.");
            if (stream.CanSeek) stream.Seek(header.DataStart + entry.Begin, SeekOrigin.Begin);
            try { tensor.ReadBytesFromStream(stream); }
            catch (EndOfStreamException) { tensor.Dispose(); throw new InvalidDataException($"The safetensors file ends inside tensor \"{entry.Name}\"."); }
            result[entry.Name] = tensor;
        }
        return result;
    }

    public static Dictionary<string, Tensor> ReadTensors(string path, Func<string, bool>? include = null)
    {
        using var file = OpenRead(path);
        try { return ReadTensors(file, include); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
    }
}

/// <summary>Writes a file under a temporary name and renames it, so a reader never sees half a file.</summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        var temp = path + ".partial";
        using (var file = File.Create(temp)) write(file);
        File.Move(temp, path, overwrite: true);
    }
}
