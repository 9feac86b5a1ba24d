using Orleans.CastIron.Paths;

namespace Orleans.CastIron.Core.Tests;

public class StagePathsTests
{
    private static readonly StagePaths Paths = new("tests/test_config.toml", TestConfigs.Config());

    [Fact]
    public void StageKeys_AreRelativeToTheConfigFolder_AndCarryOnlyTheLeaf()
    {
        Assert.Equal("tests/01_inbox/data.tsv", Paths.Inbox("dir/data.tsv"));
        Assert.Equal("tests/02_processing/data.tsv", Paths.Processing("dir/data.tsv"));
        Assert.Equal("tests/03_archive/data.tsv", Paths.Archive("dir/data.tsv"));
        Assert.Equal("tests/04_failed/data.tsv", Paths.Error("dir/data.tsv"));
        Assert.Equal("tests/05_canceled/data.tsv", Paths.Canceled("dir/data.tsv"));
    }

    [Fact]
    public void StageFolders_WithoutAFile()
    {
        Assert.Equal("tests", Paths.ConfigFolder);
        Assert.Equal(["tests/01_inbox", "tests/02_processing", "tests/03_archive", "tests/04_failed", "tests/05_canceled"], Paths.AllFolders);
    }

    [Fact]
    public void ConfigAtBucketRoot_GivesPlainFolders_WithoutDotSlash()
    {
        var root = new StagePaths("example_config.toml", TestConfigs.Config());

        Assert.Equal("", root.ConfigFolder);
        Assert.Equal("01_inbox", root.InboxFolder);
        Assert.Equal("02_processing/u-test.csv", root.Processing("01_inbox/u-test.csv"));
    }

    [Fact]
    public void NoArchiveDir_MeansNoArchiveKey()
    {
        var paths = new StagePaths("cfg.toml", TestConfigs.Config(archive: null));

        Assert.Null(paths.ArchiveFolder);
        Assert.Null(paths.Archive("01_inbox/a.csv"));
        Assert.DoesNotContain(null, paths.AllFolders);
    }

    [Fact]
    public void ErrorLog_ReplacesEveryDotOfTheLeaf()
    {
        Assert.Equal("tests/04_failed/7460-test_csv_error_log_.txt", Paths.ErrorLog("tests/02_processing/7460-test.csv"));
        Assert.Equal("tests/04_failed/a_b_c_error_log_.txt", Paths.ErrorLog("x.y/a.b.c"));
    }

    [Theory]
    [InlineData("tests/01_inbox/a.csv", true)]
    [InlineData("tests/01_inbox/sub/a.csv", false)]
    [InlineData("tests/01_inboxx/a.csv", false)]
    [InlineData("01_inbox/a.csv", false)]
    public void OnlyDirectChildrenOfTheInboxAreInIt(string key, bool expected)
    {
        Assert.Equal(expected, Paths.IsDirectlyInInbox(key));
    }

    [Fact]
    public void IsInsideStageFolder_SeesNestedKeys()
    {
        Assert.True(Paths.IsInsideStageFolder("tests/03_archive/deep/x.toml"));
        Assert.False(Paths.IsInsideStageFolder("tests/other/x.toml"));
        Assert.False(Paths.IsInsideStageFolder("tests/03_archive"));
    }
}

public class ObjectKeysTests
{
    [Fact]
    public void RenameParentLeaf_FollowTheSeed()
    {
        Assert.Equal("tests/expected.toml", ObjectKeys.Rename("tests/test_config.toml", "expected.toml"));
        Assert.Equal("tests", ObjectKeys.Parent("tests/test_config.toml"));
        Assert.Equal("test_config.toml", ObjectKeys.Leaf("tests/test_config.toml"));
    }

    [Fact]
    public void RootLevelKeys_HaveAnEmptyParent_AndRenameWithoutDotSlash()
    {
        // Seed bug B-32 produced "./<uuid>-test.csv".
        Assert.Equal("", ObjectKeys.Parent("test.csv"));
        Assert.Equal("u-test.csv", ObjectKeys.Rename("test.csv", "u-test.csv"));
    }

    [Theory]
    [InlineData("a/b/c.csv", "a", "b/c.csv")]
    [InlineData("a/b/c.csv", "", "a/b/c.csv")]
    [InlineData("ab/c.csv", "a", null)]
    [InlineData("a", "a", null)]
    public void RelativeTo(string key, string folder, string? expected)
    {
        Assert.Equal(expected, ObjectKeys.RelativeTo(key, folder));
    }

    [Theory]
    [InlineData("01_inbox/test.csv")]
    [InlineData("01_inbox/it's $(rm -rf) ; \"x\".csv")]
    [InlineData("01_inbox/données é.csv")]
    public void UsualKeys_AreValid(string key)
    {
        Assert.Null(ObjectKeys.Validate(key));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("/abs", "'/'")]
    [InlineData("a//b", "empty segment")]
    [InlineData("a/", "empty segment")]
    [InlineData("a/../b", "'..'")]
    [InlineData("./b", "'.'")]
    [InlineData("a\\b", "backslash")]
    [InlineData("a\nb", "control")]
    public void DangerousKeys_AreRefused(string key, string expected)
    {
        Assert.Contains(expected, ObjectKeys.Validate(key), StringComparison.Ordinal);
    }

    [Fact]
    public void KeysThatAreNotText_AreRefused()
    {
        Assert.Contains("Unicode", ObjectKeys.Validate("a" + '\ud800' + "b.csv"), StringComparison.Ordinal);
        Assert.Contains("Unicode", ObjectKeys.Validate("a" + '\udc00'), StringComparison.Ordinal);
        Assert.Contains("Unicode", ObjectKeys.Validate("a" + '\ud800'), StringComparison.Ordinal);
        Assert.Null(ObjectKeys.Validate("😀/日本.csv"));
    }

    [Fact]
    public void OverlongKey_IsRefused()
    {
        var segment = new string('e', 200);
        Assert.Contains("1024", ObjectKeys.Validate(string.Join('/', Enumerable.Repeat(new string('é', 100), 6))), StringComparison.Ordinal);
        Assert.Null(ObjectKeys.Validate(string.Join('/', Enumerable.Repeat(segment, 5)) + "/" + new string('e', 1024 - (5 * 201))));
    }

    [Fact]
    public void SegmentTooLongForAFileNameWithItsSidecar_IsRefused()
    {
        // 255 bytes is a file name's limit; the folder store's metadata sidecar adds ".json".
        Assert.Null(ObjectKeys.Validate("in/" + new string('x', 250)));
        Assert.Contains("251 UTF-8 bytes", ObjectKeys.Validate("in/" + new string('x', 251)), StringComparison.Ordinal);
        Assert.Contains("bytes", ObjectKeys.Validate(new string('é', 126) + "/a.csv"), StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateRenamable_LeavesRoomForTheUuidPrefixAndTheErrorLogSuffix()
    {
        var longest = "01_inbox/" + new string('x', 198);
        var renamed = ObjectKeys.Rename(longest, $"{Guid.NewGuid()}-{ObjectKeys.Leaf(longest)}");

        Assert.Equal(198, ObjectKeys.MaxRenamableLeafBytes);
        Assert.Null(ObjectKeys.ValidateRenamable(longest));
        Assert.Null(ObjectKeys.Validate(renamed));
        Assert.Null(ObjectKeys.Validate(renamed + StagePaths.ErrorLogSuffix));
        var problem = ObjectKeys.ValidateRenamable(longest + "x");
        Assert.Contains("199 bytes", problem, StringComparison.Ordinal);
        Assert.Contains("<uuid>-", problem, StringComparison.Ordinal);
        Assert.Contains("control", ObjectKeys.ValidateRenamable("01_inbox/a\nb.csv"), StringComparison.Ordinal);
        // UTF-8 bytes count, not characters.
        Assert.NotNull(ObjectKeys.ValidateRenamable("01_inbox/" + new string('é', 100)));
        // A key that fits, but not once the prefix is added.
        var deep = string.Join('/', Enumerable.Repeat(new string('d', 200), 5)) + "/" + new string('f', 10);
        Assert.Null(ObjectKeys.Validate(deep));
        Assert.Contains("1024", ObjectKeys.ValidateRenamable(deep), StringComparison.Ordinal);
    }
}
