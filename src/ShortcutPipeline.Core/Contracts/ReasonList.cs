using System.Globalization;

namespace ShortcutPipeline.Core.Contracts;

/// <summary>
/// Collects rejection reasons, keeping the first <see cref="MaxReasons"/> and counting the rest, so a
/// job with thousands of bad entries gets a readable (and storable) answer.
/// </summary>
internal sealed class ReasonList
{
    public const int MaxReasons = 50;

    private readonly List<string> reasons = [];
    private int dropped;

    public int Count => reasons.Count + dropped;

    public void Add(string reason)
    {
        if (reasons.Count < MaxReasons)
        {
            reasons.Add(reason);
        }
        else
        {
            dropped++;
        }
    }

    public IReadOnlyList<string> ToList() => dropped == 0
        ? reasons.ToArray()
        : [.. reasons, string.Create(CultureInfo.InvariantCulture, $"... and {dropped} more problems not listed here.")];
}
