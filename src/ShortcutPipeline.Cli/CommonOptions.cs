using System.CommandLine;
using System.Globalization;

namespace ShortcutPipeline.Cli;

/// <summary>Options and parsers shared by several commands.</summary>
public static class CommonOptions
{
    public static Option<string> Device() => new("--device")
    {
        Description = "cpu, cuda, cuda:N, or auto (cuda when available).",
        DefaultValueFactory = _ => "auto",
    };

    /// <summary>Where a benchmark writes its figures as JSON.</summary>
    public static Option<string?> ReportFile() => new("--out") { Description = "Write the figures to this JSON file." };

    /// <summary>Show the local pipeline's logs.</summary>
    public static Option<bool> Verbose() => new("--verbose") { Description = "Show the intake's and the worker's logs." };

    /// <summary>"1,4,128" or "1-128" (powers of two from 1 to 128).</summary>
    public static IReadOnlyList<int> ParseInts(string value)
    {
        var parts = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var result = new List<int>();
        foreach (var part in parts)
        {
            var range = part.Split('-');
            if (range.Length == 2 && int.TryParse(range[0], CultureInfo.InvariantCulture, out int from) && int.TryParse(range[1], CultureInfo.InvariantCulture, out int to) && from > 0)
            {
                for (int v = from; v <= to; v *= 2) result.Add(v);
            }
            else if (int.TryParse(part, CultureInfo.InvariantCulture, out int single)) result.Add(single);
            else throw new ArgumentException($"\"{value}\" is not a list of numbers such as 1,4,128 or a range of powers of two such as 1-128.");
        }
        return result;
    }
}
