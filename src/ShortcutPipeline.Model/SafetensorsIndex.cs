using System.Buffers.Binary;
using System.Text.Json;

namespace ShortcutPipeline.Model;

/// <summary>One tensor listed in a safetensors header: its element type (e.g. "F32") and shape.</summary>
public sealed record SafetensorsEntry(string DType, long[] Shape);

/// <summary>
/// Reads the header of a safetensors file (an 8-byte little-endian length, then a JSON object naming every
/// tensor's dtype, shape and byte range) without reading the tensor data, so that a loader can check names
/// and shapes first and then read only the tensors it needs.
/// </summary>
public static class SafetensorsIndex
{
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    /// <summary>Tensor names mapped to their dtype and shape (the <c>__metadata__</c> entry is skipped).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a safetensors file.</exception>
    public static IReadOnlyDictionary<string, SafetensorsEntry> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Safetensors file {path} does not exist.", path);
        using var stream = File.OpenRead(path);
        Span<byte> lengthBytes = stackalloc byte[8];
        if (stream.ReadAtLeast(lengthBytes, 8, throwOnEndOfStream: false) < 8)
            throw new InvalidDataException($"{path} is not a safetensors file: it is shorter than the 8-byte header length.");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength == 0 || headerLength > MaxHeaderBytes || (long)headerLength > stream.Length - 8)
            throw new InvalidDataException(
                $"{path} is not a safetensors file: its header length {headerLength} does not fit the file of {stream.Length} bytes.");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        try
        {
            using var document = JsonDocument.Parse(header);
            var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__") continue;
                string dtype = property.Value.GetProperty("dtype").GetString()
                    ?? throw new InvalidDataException($"tensor '{property.Name}' has no dtype");
                long[] shape = property.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                entries.Add(property.Name, new SafetensorsEntry(dtype, shape));
            }
            return entries;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new InvalidDataException($"{path} is not a safetensors file: its JSON header is malformed ({e.Message}).", e);
        }
    }
}
