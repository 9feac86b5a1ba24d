using System.Text;

namespace Orleans.CastIron.Core.Tests;

/// <summary>
/// Duplicate keys on large inputs. Tomlyn's validator keeps key paths that share one buffer, so two different keys
/// whose string hash codes collide look like the same key: a false <c>DuplicateKey</c>, or a real one reported
/// against the wrong first definition. With 100,000 keys a collision is more likely than not.
/// </summary>
public class LargeConfigTests
{
    private static StringBuilder ConfigWithManyKeys(int count, params string[] first)
    {
        var text = new StringBuilder("[castiron.etl]\nenabled = true\n");
        foreach (var key in first)
        {
            text.Append(key).Append(" = 1\n");
        }

        for (var i = 0; i < count; i++)
        {
            text.Append('k').Append(i).Append(" = 1\n");
        }

        return text;
    }

    /// <summary>Two different bare keys with the same <see cref="string.GetHashCode()"/> in this process.</summary>
    private static (string, string) CollidingKeys()
    {
        var seen = new Dictionary<int, string>();
        for (var i = 0; ; i++)
        {
            var key = "c" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (seen.TryGetValue(key.GetHashCode(StringComparison.Ordinal), out var other))
            {
                return (other, key);
            }

            seen[key.GetHashCode(StringComparison.Ordinal)] = key;
        }
    }

    private static List<ConfigError> Duplicates(string text) =>
        [.. ProcessorConfigParser.Parse(text, "big.toml").Errors.Where(e => e.Code == ConfigErrorCode.DuplicateKey)];

    [Fact]
    public void HundredThousandDistinctKeys_AreNoDuplicateKeys()
    {
        Assert.Empty(Duplicates(ConfigWithManyKeys(100_000).ToString()));
    }

    [Fact]
    public void TwoKeysWithTheSameStringHash_AreNoDuplicateKeys()
    {
        var (a, b) = CollidingKeys();

        Assert.Empty(Duplicates(ConfigWithManyKeys(0, a, b).ToString()));
    }

    [Fact]
    public void ARealDuplicateFarDown_IsReportedAtItsLine_NamingItsFirstDefinition()
    {
        // Line 1 is the header, line 2 `enabled`, then a, b and k0..k99999; the repeat of b is the last line.
        var (a, b) = CollidingKeys();
        var text = ConfigWithManyKeys(100_000, a, b).Append(b).Append(" = 2\n").ToString();

        var error = Assert.Single(Duplicates(text));

        Assert.Equal($"castiron.etl.{b}", error.Key);
        Assert.Equal((100_005, 1), (error.Line, error.Column));
        Assert.Contains("already defined at (4,1)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AThousandWarnings_AreCappedAtAHundred_PlusOneCountingTheRest()
    {
        var result = ProcessorConfigParser.Parse(ConfigWithManyKeys(1000).ToString(), "big.toml");

        Assert.Equal(ProcessorConfigParser.MaxErrors + 1, result.Warnings.Length);
        Assert.Equal("castiron.etl.k99", result.Warnings[ProcessorConfigParser.MaxErrors - 1].Key);
        Assert.Contains("900 more warnings", result.Warnings[^1].Message, StringComparison.Ordinal);
        Assert.Equal(6, result.Errors.Length); // 5 missing keys and no processor
    }

    [Fact]
    public void AThousandErrors_AreCappedAtAHundred_PlusOneCountingTheRest()
    {
        var result = ProcessorConfigParser.Parse(ConfigWithManyKeys(1000).ToString(), "big.toml", strict: true);

        Assert.Equal(ProcessorConfigParser.MaxErrors + 1, result.Errors.Length);
        // In text order: the table's own errors (5 missing keys, no processor) on line 1, then the unknown keys.
        Assert.Equal(94, result.Errors.Take(ProcessorConfigParser.MaxErrors).Count(e => e.Code == ConfigErrorCode.UnknownKey));
        Assert.Equal("castiron.etl.k93", result.Errors[ProcessorConfigParser.MaxErrors - 1].Key);
        Assert.Contains("906 more errors", result.Errors[^1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ManySyntaxErrors_AreCappedToo()
    {
        var text = string.Concat(Enumerable.Repeat("= = =\n", 5000));

        var result = ProcessorConfigParser.Parse(text, "bad.toml");

        Assert.Equal(ProcessorConfigParser.MaxErrors + 1, result.Errors.Length);
        Assert.Contains("more errors", result.Errors[^1].Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[a]\nx = 1\n[a]\n", "a", 3)]
    [InlineData("a.b = 1\n[a]\n", "a", 2)]
    [InlineData("a = { x = 1 }\na.y = 2\n", "a", 2)]
    [InlineData("[t.u]\nx = 1\n[t]\nu.y = 2\n", "t.u", 4)]
    [InlineData("a = 1\na.b = 2\n", "a", 2)]
    [InlineData("[t]\nu.v = 1\n[t.u]\n", "t.u", 3)]
    [InlineData("[[a]]\nb = { x = 1 }\n[a.b]\n", "a.b", 3)] // Tomlyn itself misses this one
    [InlineData("[b]\na.b.c = 1\nb = { x = 1 }\n[b.a]\n", "b.a", 4)] // and this one (its shared key buffers)
    public void Redefinitions_AreDuplicateKeys(string text, string key, int line)
    {
        var error = Assert.Single(Duplicates(text));

        Assert.Equal(key, error.Key);
        Assert.Equal(line, error.Line);
    }

    [Theory]
    [InlineData("[a.b]\nx = 1\n[a]\ny = 2\n")]
    [InlineData("[[arr]]\nx = 1\n[[arr]]\nx = 2\n")]
    [InlineData("[t]\nu.v = 1\nu.w = 2\n[t.u.z]\n")]
    [InlineData("[[arr]]\nx = 1\n[arr.sub]\ny = 1\n[[arr]]\n[arr.sub]\ny = 2\n")]
    [InlineData("[[a]]\n[b]\n[a.b]\n[[a]]\nb = {}\n")] // Tomlyn says a redefinition
    public void LegalExtensions_AreNotDuplicateKeys(string text)
    {
        Assert.Empty(Duplicates(text));
    }
}
