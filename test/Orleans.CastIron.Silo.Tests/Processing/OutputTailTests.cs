using Orleans.CastIron.Processing;

namespace Orleans.CastIron.Silo.Tests.Processing;

public class OutputTailTests
{
    [Fact]
    public void AnOverlongLine_KeepsItsStart_AndSaysHowMuchWasDropped()
    {
        var tail = new OutputTail();

        tail.AppendLine("before");
        tail.AppendLine("a" + new string('x', 1_000_000));
        tail.AppendLine("after");

        var text = tail.ToString();
        Assert.StartsWith("before\na", text, StringComparison.Ordinal);
        Assert.EndsWith("after\n", text, StringComparison.Ordinal);
        Assert.Contains($"[... {1_000_001 - OutputTail.MaxLineLength} characters of this line dropped]", text, StringComparison.Ordinal);
        Assert.True(text.Length < OutputTail.MaxLineLength + 200);
    }

    [Fact]
    public void TheWriter_ALineThatNeverEnds_CostsBoundedMemory()
    {
        var tail = new OutputTail();
        using var writer = tail.CreateWriter();
        var chunk = new string('y', 64 * 1024).ToCharArray();

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 800; i++)
        {
            writer.Write(chunk, 0, chunk.Length);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        writer.Write('\n');

        // 50 MB of one line: holding it would cost 100 MB (UTF-16).
        Assert.True(allocated < 1_000_000, $"allocated {allocated:N0} bytes");
        Assert.Contains($"[... {(800 * 64 * 1024) - OutputTail.MaxLineLength} characters of this line dropped]", tail.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void TheWriter_SplitsLines_AndDropsCarriageReturns()
    {
        var tail = new OutputTail();
        using (var writer = tail.CreateWriter())
        {
            writer.Write("one\r\ntwo\nthr");
            writer.Write("ee");
        }

        Assert.Equal("one\ntwo\nthree\n", tail.ToString());
    }
}
