using System.Buffers.Binary;
using System.IO.Compression;

namespace ShortcutPipeline.Model.Data;

/// <summary>
/// Reads IDX files of unsigned bytes (the MNIST / Fashion-MNIST format: a big-endian magic number
/// 0x0000 08 NN, where 08 = unsigned byte and NN = number of dimensions, then NN big-endian int32 sizes, then
/// the data), plain or gzipped (recognized by the gzip magic bytes, whatever the file name).
/// </summary>
internal static class IdxFile
{
    /// <summary>An IDX file's sizes (first = item count) and the bytes of the items read.</summary>
    public sealed record Contents(int[] Dimensions, int ItemsRead, byte[] Data);

    /// <summary>Reads up to <paramref name="limit"/> items (all by default) of an unsigned-byte IDX file
    /// with <paramref name="dimensions"/> dimensions, checking the magic number and that the data is all there.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">Wrong magic number, zero sizes, bad gzip data or a truncated file;
    /// the message names the file.</exception>
    public static Contents Read(string path, int dimensions, string what, int? limit = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file {path} does not exist.", path);
        int expectedMagic = 0x0800 | dimensions;
        using var stream = OpenDecompressed(path);
        try
        {
            var header = new byte[4 * (1 + dimensions)];
            int headerRead = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
            if (headerRead < header.Length)
                throw new InvalidDataException($"{path} is truncated: it ends after {headerRead} bytes, inside the {header.Length}-byte IDX header.");
            int magic = BinaryPrimitives.ReadInt32BigEndian(header);
            if (magic != expectedMagic)
                throw new InvalidDataException(
                    $"{path} is not an IDX file of {what}: its magic number is 0x{magic:X8}, expected 0x{expectedMagic:X8}.");
            var sizes = new int[dimensions];
            for (int d = 0; d < dimensions; d++)
            {
                sizes[d] = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4 * (d + 1)));
                if (sizes[d] < 1) throw new InvalidDataException($"{path}: dimension {d} of the IDX header is {sizes[d]}, it must be positive.");
            }

            long itemBytes = sizes.Skip(1).Aggregate(1L, (product, size) => product * size);
            int items = Math.Min(sizes[0], limit ?? int.MaxValue);
            long dataBytes = itemBytes * items;
            if (dataBytes > Array.MaxLength) throw new InvalidDataException($"{path}: {dataBytes} bytes of data is too large to load.");
            var data = new byte[dataBytes];
            int dataRead = stream.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
            if (dataRead < data.Length)
                throw new InvalidDataException(
                    $"{path} is truncated: its header announces {sizes[0]} {what} of {itemBytes} bytes, but the data ends after {dataRead} of the {dataBytes} bytes read.");
            return new Contents(sizes, items, data);
        }
        catch (InvalidDataException e) when (!e.Message.Contains(path, StringComparison.Ordinal))
        {
            // GZipStream reports corrupt compressed data without saying which file.
            throw new InvalidDataException($"{path} is not readable gzip data: {e.Message}", e);
        }
    }

    private static Stream OpenDecompressed(string path)
    {
        var file = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[2];
        int read = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        return read == 2 && magic[0] == 0x1f && magic[1] == 0x8b ? new GZipStream(file, CompressionMode.Decompress) : file;
    }
}
