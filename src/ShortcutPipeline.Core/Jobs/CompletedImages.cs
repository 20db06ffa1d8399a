using System.Numerics;

namespace ShortcutPipeline.Core.Jobs;

/// <summary>
/// The set of completed image indices of a job as a bitmap (bit i of byte i/8, least significant first):
/// 32 bytes for 256 images, stored on the status record so a redelivered image is never counted twice.
/// </summary>
internal static class CompletedImages
{
    public static byte[] Create(int totalImages) => new byte[(totalImages + 7) / 8];

    public static bool Contains(byte[]? bitmap, int index) =>
        bitmap is not null && index / 8 < bitmap.Length && (bitmap[index / 8] & (1 << (index % 8))) != 0;

    public static void Add(byte[] bitmap, int index) => bitmap[index / 8] |= (byte)(1 << (index % 8));

    public static int Count(byte[]? bitmap) => bitmap?.Sum(b => BitOperations.PopCount(b)) ?? 0;

    public static IEnumerable<int> Indices(byte[]? bitmap, int totalImages)
    {
        for (int index = 0; index < totalImages; index++)
        {
            if (Contains(bitmap, index))
            {
                yield return index;
            }
        }
    }
}
