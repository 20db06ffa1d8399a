using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace ShortcutPipeline.Model;

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
