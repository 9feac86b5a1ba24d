namespace Orleans.CastIron.Core.Tests;

public class FileStatusRulesTests
{
    public static TheoryData<FileStatus, FileStatus, bool> AllPairs()
    {
        var allowed = new HashSet<(FileStatus, FileStatus)>
        {
            (FileStatus.Queued, FileStatus.Processing),
            (FileStatus.Queued, FileStatus.Canceled),
            (FileStatus.Processing, FileStatus.Complete),
            (FileStatus.Processing, FileStatus.Failed),
            (FileStatus.Processing, FileStatus.Canceled),
            (FileStatus.Failed, FileStatus.Queued),
            (FileStatus.Canceled, FileStatus.Queued),
        };
        var data = new TheoryData<FileStatus, FileStatus, bool>();
        foreach (var from in Enum.GetValues<FileStatus>())
        {
            foreach (var to in Enum.GetValues<FileStatus>())
            {
                data.Add(from, to, allowed.Contains((from, to)));
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AllPairs))]
    public void EveryTransitionIsExplicit(FileStatus from, FileStatus to, bool allowed)
    {
        Assert.Equal(allowed, FileStatusRules.CanTransition(from, to));
        if (allowed)
        {
            FileStatusRules.EnsureTransition(from, to);
        }
        else
        {
            var ex = Assert.Throws<InvalidOperationException>(() => FileStatusRules.EnsureTransition(from, to));
            Assert.Contains($"from {from} to {to}", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void NewFilesStartQueued_AndCompleteIsFinal()
    {
        Assert.Equal(FileStatus.Queued, FileStatusRules.Initial);
        Assert.Empty(FileStatusRules.NextStatuses(FileStatus.Complete));
        Assert.False(FileStatusRules.CanRetry(FileStatus.Complete));
        Assert.True(FileStatusRules.CanRetry(FileStatus.Failed));
        Assert.True(FileStatusRules.CanCancel(FileStatus.Queued));
        Assert.False(FileStatusRules.CanCancel(FileStatus.Failed));
    }

    [Theory]
    [InlineData(FileStatus.Queued, false)]
    [InlineData(FileStatus.Processing, false)]
    [InlineData(FileStatus.Complete, true)]
    [InlineData(FileStatus.Failed, true)]
    [InlineData(FileStatus.Canceled, true)]
    public void Final(FileStatus status, bool final) => Assert.Equal(final, FileStatusRules.IsFinal(status));

    [Theory]
    [InlineData(FileStatus.Complete, "success")]
    [InlineData(FileStatus.Failed, "failure")]
    [InlineData(FileStatus.Canceled, "canceled")]
    [InlineData(FileStatus.Queued, null)]
    [InlineData(FileStatus.Processing, null)]
    public void JobEventStatusStrings(FileStatus status, string? expected) =>
        Assert.Equal(expected, FileStatusRules.ToJobEventStatus(status));

    [Theory]
    [InlineData("Queued", FileStatus.Queued)]
    [InlineData("Processing", FileStatus.Processing)]
    [InlineData("Complete", FileStatus.Complete)]
    [InlineData("Failed", FileStatus.Failed)]
    [InlineData("Canceled", FileStatus.Canceled)]
    public void WireStrings_AreTheSeeds(string wire, FileStatus status)
    {
        Assert.Equal(wire, FileStatusRules.ToWire(status));
        Assert.True(FileStatusRules.TryParse(wire, out var parsed));
        Assert.Equal(status, parsed);
    }

    [Theory]
    [InlineData("complete")]
    [InlineData("Success")]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("2")]
    public void OtherStrings_AreNotStatuses(string? wire) => Assert.False(FileStatusRules.TryParse(wire, out _));
}
