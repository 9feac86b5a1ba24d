using Orleans.CastIron.Matching;

namespace Orleans.CastIron.Core.Tests;

public class HandledFilePatternTests
{
    [Theory]
    [InlineData("tests/01_inbox/data_test.tsv", true)]
    [InlineData("tests/01_inbox/data_updated.csv", true)]
    [InlineData("tests/01_inbox/data_test.mp3", true)]
    [InlineData("tests/01_inbox/data_test.csv", false)]
    [InlineData("tests/01_inbox/data_test.bad", false)]
    public void SeedGlobTest_SpacesStrippedSuffixAlternation(string fileKey, bool expected)
    {
        var processor = new RegisteredProcessor("tests/test_config.toml", TestConfigs.Config(glob: "_test.tsv| _updated.csv|.mp3"), 1);

        Assert.Equal(expected, ProcessorMatcher.Match(fileKey, [processor]) is not null);
    }

    [Fact]
    public void SeedGlobTest_FileOutsideTheConfigFolder_DoesNotMatch()
    {
        var processor = new RegisteredProcessor("tests/test_config.toml", TestConfigs.Config(glob: "_test.tsv"), 1);

        Assert.Null(ProcessorMatcher.Match("01_inbox/data_test.tsv", [processor]));
    }

    [Fact]
    public void ShellGlob_IsRefused()
    {
        Assert.False(HandledFilePattern.TryCreate("*_test.tsv", out _, out var problem));
        Assert.Contains("not a shell glob", problem, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => HandledFilePattern.Create("*_test.tsv"));
    }

    // B-17: the seed's semantics are kept for compatibility; these tests pin them down so a change is deliberate.
    [Theory]
    [InlineData(".csv", "01_inbox/a.csv", true)]
    [InlineData(".csv", "01_inbox/xcsv", true)]            // '.' is a regex wildcard
    [InlineData(".csv", "01_inbox/A.CSV", false)]          // case-sensitive
    [InlineData(".csv|.CSV", "01_inbox/A.CSV", true)]
    [InlineData("", "01_inbox/anything", true)]            // empty pattern matches every file
    [InlineData("my file.csv", "01_inbox/u-my file.csv", false)] // spaces are stripped from the pattern...
    [InlineData("my\\x20file.csv", "01_inbox/u-my file.csv", true)] // ...so a space is written \x20
    [InlineData("\\.csv", "01_inbox/xcsv", false)]
    [InlineData("01_inbox/.*\\.csv", "01_inbox/a.csv", true)] // the relative path includes the inbox folder
    [InlineData(".csv", "01_inbox/a.csv.bak", false)]      // anchored at the end
    public void PatternSemantics(string pattern, string relativePath, bool expected)
    {
        Assert.Equal(expected, HandledFilePattern.Create(pattern).IsMatch(relativePath));
    }

    [Fact]
    public void Patterns_RunOnTheLinearTimeEngine()
    {
        Assert.True(HandledFilePattern.Create(".csv").Options.HasFlag(System.Text.RegularExpressions.RegexOptions.NonBacktracking));
    }

    [Fact]
    public void CatastrophicPattern_AnswersCorrectly_WithoutBacktracking()
    {
        // A backtracking engine needs exponential time (then its timeout) on the non-matching name.
        var pattern = HandledFilePattern.Create("(a+)+$");
        var aaaa = new string('a', 50_000);

        Assert.True(pattern.Options.HasFlag(System.Text.RegularExpressions.RegexOptions.NonBacktracking));
        Assert.False(pattern.IsMatch(aaaa + "!"));
        Assert.True(pattern.IsMatch(aaaa));
        Assert.False(HandledFilePattern.Create("(a+)+b").IsMatch(aaaa + "c"));
    }

    [Theory]
    [InlineData("(a)\\1")]          // backreference
    [InlineData("(?=x).csv")]       // lookahead
    [InlineData("(?<!x).csv")]      // lookbehind
    [InlineData("(?>a+).csv")]      // atomic group
    public void PatternsTheLinearEngineCannotRun_AreRefused(string raw)
    {
        Assert.False(HandledFilePattern.TryCreate(raw, out _, out var problem));
        Assert.Contains(raw, problem, StringComparison.Ordinal);
    }
}

public class ProcessorMatcherTests
{
    [Fact]
    public void SubfolderOfTheInbox_NeverMatches()
    {
        var processor = new RegisteredProcessor("example_config.toml", TestConfigs.Config(), 1);

        Assert.NotNull(ProcessorMatcher.Match("01_inbox/u-test.csv", [processor]));
        Assert.Null(ProcessorMatcher.Match("01_inbox/sub/u-test.csv", [processor]));
    }

    [Fact]
    public void DisabledConfig_NeverMatches()
    {
        var processor = new RegisteredProcessor("example_config.toml", TestConfigs.Config(enabled: false), 1);

        Assert.Null(ProcessorMatcher.Match("01_inbox/u-test.csv", [processor]));
    }

    [Fact]
    public void NonMatchingName_HasNoCandidate()
    {
        var processor = new RegisteredProcessor("example_config.toml", TestConfigs.Config(glob: ".csv|.CSV"), 1);

        Assert.Empty(ProcessorMatcher.Candidates("01_inbox/u-notes.txt", [processor]));
    }

    [Fact]
    public void SameFolder_FirstRegisteredWins_RegardlessOfListOrder()
    {
        var first = new RegisteredProcessor("proj/z.toml", TestConfigs.Config(), registrationOrder: 1);
        var second = new RegisteredProcessor("proj/a.toml", TestConfigs.Config(), registrationOrder: 2);

        Assert.Same(first, ProcessorMatcher.Match("proj/01_inbox/u-x.csv", [second, first]));
        Assert.Equal([first, second], ProcessorMatcher.Candidates("proj/01_inbox/u-x.csv", [second, first]));
    }

    [Fact]
    public void SameFolderAndOrder_LowerKeyWins()
    {
        var a = new RegisteredProcessor("proj/a.toml", TestConfigs.Config(), 7);
        var b = new RegisteredProcessor("proj/b.toml", TestConfigs.Config(), 7);

        Assert.Same(a, ProcessorMatcher.Match("proj/01_inbox/u-x.csv", [b, a]));
    }

    [Fact]
    public void MostSpecificConfigFolder_WinsOverEarlierRegistration()
    {
        var rootConfig = new RegisteredProcessor("root.toml", TestConfigs.Config(inbox: "proj/01_inbox"), registrationOrder: 1);
        var projectConfig = new RegisteredProcessor("proj/cfg.toml", TestConfigs.Config(), registrationOrder: 2);

        Assert.Equal(rootConfig.Paths.InboxFolder, projectConfig.Paths.InboxFolder);
        Assert.Same(projectConfig, ProcessorMatcher.Match("proj/01_inbox/u-x.csv", [rootConfig, projectConfig]));
    }

    [Fact]
    public void ContentType_MatchesFirstWhenSwitchedOn()
    {
        var processor = new RegisteredProcessor("cfg.toml", TestConfigs.Config(glob: ".never", mimeTypes: "text/csv"), 1);

        Assert.Null(ProcessorMatcher.Match("01_inbox/u-data", [processor], "text/csv"));
        Assert.Same(processor, ProcessorMatcher.Match("01_inbox/u-data", [processor], "text/csv", matchContentType: true));
        Assert.Null(ProcessorMatcher.Match("01_inbox/u-data", [processor], "application/pdf", matchContentType: true));
    }
}
