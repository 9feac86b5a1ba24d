using System.Text;
using CsCheck;

namespace Orleans.CastIron.Core.Tests.Fuzz;

/// <summary>Generators shared by the fuzz tests: hostile fragments, and mutations of valid seed inputs.</summary>
internal static class FuzzGen
{
    /// <summary>
    /// Inputs each property tries (4,000: the whole fuzz suite stays at a few seconds). Set CsCheck_Iter to fuzz longer;
    /// CsCheck prints the seed of a failure, and CsCheck_Seed replays it.
    /// </summary>
    public static readonly long Iterations =
        long.TryParse(Environment.GetEnvironmentVariable("CsCheck_Iter"), System.Globalization.CultureInfo.InvariantCulture, out var iterations) ? iterations : 4_000;

    /// <summary>Pieces that tend to break parsers: syntax, escapes, controls, odd Unicode, huge numbers.</summary>
    public static readonly Gen<string> Fragment = Gen.OneOf(
        "[", "]", "[[", "]]", "{", "}", "=", "\"", "'", "'''", "\"\"\"", ".", ",", ":", "#", "\n", "\r\n", "\r", "\\", "\\u", "\\ud800",
        "\\U0010FFFF", " ", "\t", "\0", "\u0001", "\u007f", "\u2028", "\ufeff", "\ud800", "é", "日本", "😀", "true", "false", "null", "1e400",
        "-0", "nan", "inf", "0x7fffffffffffffff", "99999999999999999999", "1979-05-27T07:32:00Z", "castiron", "etl", "enabled",
        "handled_file_glob", "inbox_dir", "python", "dotnet", "(a+)+$", "(?=x)", "\\1", "..", "/", "//", "%2F", "%", "+");

    /// <summary>Random text from a small alphabet of structure characters, letters and a few controls.</summary>
    public static readonly Gen<string> Noise = Gen.String[Gen.Char["[]{}=\"'.,#:/\\ \t\n\r\0abcdeé😀0123456789-_+%"], 0, 80];

    /// <summary><paramref name="seed"/> with a few random edits: inserts, deletes, repeats and swaps of lines.</summary>
    public static Gen<string> Mutated(params string[] seeds) =>
        Gen.Select(Gen.Int[0, seeds.Length - 1], Edits.Array[1, 6], (index, edits) => Apply(seeds[index], edits));

    private static readonly Gen<Edit> Edits = Gen.Select(Gen.Int[0, 3], Gen.Double[0, 1], Gen.Int[0, 40], Gen.OneOf(Fragment, Noise), (kind, at, length, text) => new Edit(kind, at, length, text));

    private static string Apply(string text, Edit[] edits)
    {
        var builder = new StringBuilder(text);
        foreach (var edit in edits)
        {
            var position = (int)(edit.At * builder.Length);
            switch (edit.Kind)
            {
                case 0:
                    builder.Insert(position, edit.Text);
                    break;
                case 1:
                    builder.Remove(position, Math.Min(edit.Length, builder.Length - position));
                    break;
                case 2:
                    // Repeat a stretch: duplicated keys and tables.
                    var stretch = builder.ToString(position, Math.Min(edit.Length * 4, builder.Length - position));
                    builder.Insert(position, stretch);
                    break;
                default:
                    var lines = builder.ToString().Split('\n');
                    if (lines.Length > 1)
                    {
                        var i = position % lines.Length;
                        var j = (i + 1 + edit.Length) % lines.Length;
                        (lines[i], lines[j]) = (lines[j], lines[i]);
                        builder.Clear().AppendJoin('\n', lines);
                    }

                    break;
            }
        }

        return builder.ToString();
    }

    private sealed record Edit(int Kind, double At, int Length, string Text);
}
