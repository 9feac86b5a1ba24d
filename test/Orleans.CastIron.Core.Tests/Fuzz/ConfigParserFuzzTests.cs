using System.Text;
using CsCheck;
using Tomlyn.Parsing;
using Tomlyn.Syntax;
using Xunit.Abstractions;

namespace Orleans.CastIron.Core.Tests.Fuzz;

public class ConfigParserFuzzTests(ITestOutputHelper output)
{
    private const string Valid = """
        [castiron.etl]
        enabled = true
        handled_file_glob = "_test.tsv|.csv"
        inbox_dir = "01_inbox"
        processing_dir = "02_processing"
        archive_dir = "03_archive"
        error_dir = "04_failed"
        save_error_log = true
        shell = "cat \"$ETL_FILENAME\""
        [castiron.etl.dotnet]
        processor = "x"
        options = { a = 1, b = [1, 2], c = { d = "e" } }
        """;

    private static readonly string[] Seeds =
        [Valid, Fixture.Read("example_config.toml"), Fixture.Read("test_config.toml"), Fixture.Read("test_python_config.toml")];

    /// <summary>
    /// Parses, and checks what any input may produce: a config, or typed errors that say where; warnings of the same
    /// shape; and strict configs refusing exactly what the lenient reading warned about, at the same places.
    /// </summary>
    private static void ParsesToConfigOrTypedErrors(string text)
    {
        var result = ProcessorConfigParser.Parse(text, "fuzz.toml");
        var strict = ProcessorConfigParser.Parse(text, "fuzz.toml", strict: true);

        Assert.InRange(result.Warnings.Length, 0, ProcessorConfigParser.MaxErrors + 1);
        Assert.All(result.Warnings, Typed);
        Assert.Empty(strict.Warnings);
        Assert.Equal(result.IsValid && result.Warnings.IsEmpty, strict.IsValid);
        if (result.Errors.Length + result.Warnings.Length <= ProcessorConfigParser.MaxErrors)
        {
            Assert.Equal(
                result.Errors.Concat(result.Warnings).Select(e => (e.Code, e.Key, e.Line, e.Column)).Order(),
                strict.Errors.Select(e => (e.Code, e.Key, e.Line, e.Column)).Order());
        }

        if (result.IsValid)
        {
            Assert.NotNull(result.Config);
            return;
        }

        Assert.InRange(result.Errors.Length, 1, ProcessorConfigParser.MaxErrors + 1);
        Assert.All(result.Errors, Typed);

        static void Typed(ConfigError e)
        {
            Assert.True(Enum.IsDefined(e.Code), e.ToString());
            Assert.True(e.Line >= 0 && e.Column >= 0, e.ToString());
            Assert.False(string.IsNullOrEmpty(e.Message), e.ToString());
        }
    }

    [Fact]
    public void MutatedConfigs_OnlyEverGiveAConfigOrTypedErrors()
    {
        FuzzGen.Mutated(Seeds).Sample(ParsesToConfigOrTypedErrors, output.WriteLine, iter: FuzzGen.Iterations);
    }

    [Fact]
    public void RandomText_OnlyEverGivesTypedErrors()
    {
        Gen.OneOf(FuzzGen.Noise, Gen.String, FuzzGen.Fragment.Array[0, 30].Select(string.Concat))
            .Sample(ParsesToConfigOrTypedErrors, output.WriteLine, iter: FuzzGen.Iterations);
    }

    /// <summary>
    /// Small documents of headers, dotted keys and inline tables over few names: many redefinitions. No arrays of
    /// tables: Tomlyn misplaces their elements (it reports <c>b = {}</c> in a second <c>[[a]]</c> as redefining the first
    /// element's <c>[a.b]</c>), and they are never valid in a config anyway.
    /// </summary>
    private static readonly Gen<string> Redefinitions = Gen.Select(
            Gen.OneOf(0, 2),
            Gen.OneOf("a", "b", "a.b", "b.a", "a.b.c", "\"a\"", "'b'"),
            Gen.OneOf("1", "\"s\"", "{ x = 1 }", "{}", "[1]"))
        .Select((form, name, value) => form switch
        {
            0 => $"[{name}]",
            1 => $"[[{name}]]",
            _ => $"{name} = {value}",
        })
        .Array[1, 8]
        .Select(lines => string.Join('\n', lines) + "\n");

    [Fact]
    public void EveryRedefinitionTomlynFinds_IsFoundHereToo()
    {
        // One direction only: Tomlyn's shared key buffers make it miss some redefinitions (see TomlNode), but on a few
        // short names it reports none falsely (that takes a hash collision). The reverse is pinned by example tests.
        Redefinitions.Sample(text =>
        {
            var tomlyn = SyntaxParser.Parse(text, "fuzz.toml", validate: true).Diagnostics.Where(d => d.Kind == DiagnosticMessageKind.Error).ToList();
            if (tomlyn.Count == 0 || tomlyn.Any(d => !d.Message.Contains("already defined", StringComparison.Ordinal)))
            {
                return;
            }

            var ours = ProcessorConfigParser.Parse(text, "fuzz.toml").Errors;
            Assert.True(ours.Any(e => e.Code == ConfigErrorCode.DuplicateKey), $"Tomlyn: {tomlyn[0].Message}; ours: {string.Join("; ", ours)}\n{text}");
        }, output.WriteLine, iter: FuzzGen.Iterations);
    }

    [Fact]
    public void ParsingWork_GrowsLinearlyWithTheDocument()
    {
        // Many distinct keys: the shape that once slowed Tomlyn-style checks down. Measured in bytes allocated on this
        // thread, not in time: a timed check failed under CI's parallel load (24 ms vs 990 ms), and speed belongs in
        // benchmarks. Ten times the keys must not cost much more than ten times the memory work.
        static string Document(int keys) => new StringBuilder("[castiron.etl]\n").AppendJoin("", Enumerable.Range(0, keys).Select(i => $"k{i} = {i}\n")).ToString();
        static long Allocated(string text)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            ProcessorConfigParser.Parse(text);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        var small = Document(5_000);
        var large = Document(50_000);
        Allocated(small);
        var smallBytes = Allocated(small);
        var largeBytes = Allocated(large);

        output.WriteLine($"5,000 keys: {smallBytes / 1024} KiB, 50,000 keys: {largeBytes / 1024} KiB allocated");
        Assert.True(largeBytes < smallBytes * 15, $"5,000 keys allocated {smallBytes} bytes, 50,000 allocated {largeBytes}");
    }
}
