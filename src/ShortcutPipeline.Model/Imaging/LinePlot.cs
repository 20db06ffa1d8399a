using System.Globalization;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace ShortcutPipeline.Model.Imaging;

/// <summary>
/// A small line chart rendered to PNG with ImageSharp's pixel access (ImageSharp.Drawing is not available here):
/// one series per model; x on a log2 axis (step budgets) or a linear one (training steps); y linear from 0.
/// Text uses a built-in 5x7 pixel font.
/// </summary>
public sealed class LinePlot
{
    public sealed record Series(string Name, IReadOnlyList<(double X, double Y)> Points);

    private static readonly Rgb24[] Palette =
    [
        new(31, 119, 180), new(214, 39, 40), new(44, 160, 44), new(255, 127, 14), new(148, 103, 189), new(140, 86, 75),
    ];

    private const int Width = 760, Height = 480, Left = 80, Right = 190, Top = 60, Bottom = 64;

    public string Title { get; init; } = "";
    public string XLabel { get; init; } = "";
    public string YLabel { get; init; } = "";
    /// <summary>Log2 x axis with a tick at each distinct x (step budgets); false: linear with about 5 ticks.</summary>
    public bool LogX { get; init; } = true;
    public List<Series> Lines { get; } = [];

    public void Save(string path)
    {
        using var image = Render();
        image.SaveAsPng(path);
    }

    public Image<Rgb24> Render()
    {
        if (Lines.Count == 0 || Lines.All(l => l.Points.Count == 0)) throw new InvalidOperationException("The plot has no points.");
        var image = new Image<Rgb24>(Width, Height, new Rgb24(255, 255, 255));
        var points = Lines.SelectMany(l => l.Points).ToList();
        Func<double, double> axis = LogX ? Math.Log2 : x => x;
        double xMin = axis(points.Min(p => p.X)), xMax = axis(points.Max(p => p.X));
        if (xMax - xMin < 1e-9) xMax = xMin + 1;
        double yMax = NiceCeiling(points.Max(p => p.Y) * 1.05);
        int plotWidth = Width - Left - Right, plotHeight = Height - Top - Bottom;
        int Px(double x) => Left + (int)Math.Round((axis(x) - xMin) / (xMax - xMin) * plotWidth);
        int Py(double y) => Top + plotHeight - (int)Math.Round(y / yMax * plotHeight);

        var black = new Rgb24(0, 0, 0);
        var grid = new Rgb24(225, 225, 225);
        for (int i = 0; i <= 5; i++)
        {
            double y = yMax * i / 5;
            Line(image, Left, Py(y), Left + plotWidth, Py(y), grid, 1);
            var label = y.ToString(y >= 100 ? "F0" : "G3", CultureInfo.InvariantCulture);
            Text(image, label, Left - 8 - TextWidth(label), Py(y) - 3, black);
        }
        var xTicks = LogX
            ? points.Select(p => p.X).Distinct().Order().ToList()
            : LinearTicks(xMin, xMax);
        foreach (var x in xTicks)
        {
            Line(image, Px(x), Top, Px(x), Top + plotHeight, grid, 1);
            var label = x.ToString(CultureInfo.InvariantCulture);
            Text(image, label, Px(x) - TextWidth(label) / 2, Top + plotHeight + 8, black);
        }
        Line(image, Left, Top, Left, Top + plotHeight, black, 1);
        Line(image, Left, Top + plotHeight, Left + plotWidth, Top + plotHeight, black, 1);
        Text(image, Title, Left + (plotWidth - TextWidth(Title, 2)) / 2, 10, black, 2);
        Text(image, XLabel, Left + (plotWidth - TextWidth(XLabel)) / 2, Height - 28, black);
        Text(image, YLabel, 8, Top - 20, black);

        for (int s = 0; s < Lines.Count; s++)
        {
            var color = Palette[s % Palette.Length];
            var series = Lines[s].Points.OrderBy(p => p.X).ToList();
            for (int i = 1; i < series.Count; i++)
                Line(image, Px(series[i - 1].X), Py(series[i - 1].Y), Px(series[i].X), Py(series[i].Y), color, LogX ? 2 : 1);
            if (LogX) foreach (var p in series) Fill(image, Px(p.X) - 3, Py(p.Y) - 3, 7, 7, color);
            int legendY = Top + 10 + s * 18;
            Fill(image, Left + plotWidth + 16, legendY, 14, 7, color);
            Text(image, Lines[s].Name, Left + plotWidth + 36, legendY, black);
        }
        return image;
    }

    // Multiples of a round step (1, 2, 2.5 or 5 times a power of ten) inside [min, max].
    private static List<double> LinearTicks(double min, double max)
    {
        double step = NiceCeiling((max - min) / 5);
        var ticks = new List<double>();
        for (double x = Math.Ceiling(min / step) * step; x <= max + 1e-9; x += step) ticks.Add(x);
        return ticks;
    }

    private static double NiceCeiling(double value)
    {
        if (value <= 0) return 1;
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (var step in new[] { 1, 2, 2.5, 5, 10 })
            if (step * magnitude >= value) return step * magnitude;
        return 10 * magnitude;
    }

    private static void Fill(Image<Rgb24> image, int x, int y, int w, int h, Rgb24 color)
    {
        for (int j = Math.Max(0, y); j < Math.Min(image.Height, y + h); j++)
            for (int i = Math.Max(0, x); i < Math.Min(image.Width, x + w); i++)
                image[i, j] = color;
    }

    // Bresenham's line, thickened by drawing a small square at each point.
    private static void Line(Image<Rgb24> image, int x0, int y0, int x1, int y1, Rgb24 color, int thickness)
    {
        int dx = Math.Abs(x1 - x0), dy = -Math.Abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
        while (true)
        {
            Fill(image, x0 - thickness / 2, y0 - thickness / 2, thickness, thickness, color);
            if (x0 == x1 && y0 == y1) break;
            int e2 = 2 * err;
            if (e2 >= dy) { err += dy; x0 += sx; }
            if (e2 <= dx) { err += dx; y0 += sy; }
        }
    }

    private static int TextWidth(string text, int scale = 1) => text.Length * 6 * scale;

    private static void Text(Image<Rgb24> image, string text, int x, int y, Rgb24 color, int scale = 1)
    {
        foreach (char c in text.ToUpperInvariant())
        {
            if (PixelFont.Glyphs.TryGetValue(c, out var rows))
            {
                for (int r = 0; r < 7; r++)
                    for (int col = 0; col < 5; col++)
                        if (rows[r][col] == '#') Fill(image, x + col * scale, y + r * scale, scale, scale, color);
            }
            x += 6 * scale;
        }
    }
}

/// <summary>A 5x7 pixel font: digits, capital letters and a little punctuation.</summary>
internal static class PixelFont
{
    public static readonly Dictionary<char, string[]> Glyphs = Parse(
        """
        0 .###. #...# #..## #.#.# ##..# #...# .###.
        1 ..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.
        2 .###. #...# ....# ...#. ..#.. .#... #####
        3 ####. ....# ....# .###. ....# ....# ####.
        4 ...#. ..##. .#.#. #..#. ##### ...#. ...#.
        5 ##### #.... ####. ....# ....# #...# .###.
        6 .###. #.... #.... ####. #...# #...# .###.
        7 ##### ....# ...#. ..#.. .#... .#... .#...
        8 .###. #...# #...# .###. #...# #...# .###.
        9 .###. #...# #...# .#### ....# ....# .###.
        A .###. #...# #...# ##### #...# #...# #...#
        B ####. #...# #...# ####. #...# #...# ####.
        C .###. #...# #.... #.... #.... #...# .###.
        D ####. #...# #...# #...# #...# #...# ####.
        E ##### #.... #.... ####. #.... #.... #####
        F ##### #.... #.... ####. #.... #.... #....
        G .###. #...# #.... #.### #...# #...# .####
        H #...# #...# #...# ##### #...# #...# #...#
        I .###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.
        J ..### ...#. ...#. ...#. ...#. #..#. .##..
        K #...# #..#. #.#.. ##... #.#.. #..#. #...#
        L #.... #.... #.... #.... #.... #.... #####
        M #...# ##.## #.#.# #.#.# #...# #...# #...#
        N #...# #...# ##..# #.#.# #..## #...# #...#
        O .###. #...# #...# #...# #...# #...# .###.
        P ####. #...# #...# ####. #.... #.... #....
        Q .###. #...# #...# #...# #.#.# #..#. .##.#
        R ####. #...# #...# ####. #.#.. #..#. #...#
        S .#### #.... #.... .###. ....# ....# ####.
        T ##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..
        U #...# #...# #...# #...# #...# #...# .###.
        V #...# #...# #...# #...# #...# .#.#. ..#..
        W #...# #...# #...# #.#.# #.#.# #.#.# .#.#.
        X #...# #...# .#.#. ..#.. .#.#. #...# #...#
        Y #...# #...# .#.#. ..#.. ..#.. ..#.. ..#..
        Z ##### ....# ...#. ..#.. .#... #.... #####
        . ..... ..... ..... ..... ..... .##.. .##..
        , ..... ..... ..... ..... .##.. ..#.. .#...
        - ..... ..... ..... ##### ..... ..... .....
        / ....# ...#. ...#. ..#.. .#... .#... #....
        : ..... .##.. .##.. ..... .##.. .##.. .....
        ( ...#. ..#.. .#... .#... .#... ..#.. ...#.
        ) .#... ..#.. ...#. ...#. ...#. ..#.. .#...
        = ..... ..... ##### ..... ##### ..... .....
        % ##... ##..# ...#. ..#.. .#... #..## ...##
        _ ..... ..... ..... ..... ..... ..... #####
        """);

    private static Dictionary<char, string[]> Parse(string table) =>
        table.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' '))
            .ToDictionary(parts => parts[0][0], parts => parts[1..]);
}
