using System.Diagnostics;
using Orleans.CastIron.Processing;

namespace Orleans.CastIron.Silo.Tests.Processing;

public sealed class SparseCopyTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "castiron-sparse-tests", Guid.NewGuid().ToString("N"));

    public SparseCopyTests() => Directory.CreateDirectory(_folder);

    /// <summary>Disk actually allocated to a file, in KiB (as <c>du</c> reports it).</summary>
    private static long AllocatedKiB(string path)
    {
        using var du = Process.Start(new ProcessStartInfo("du", ["-k", path]) { RedirectStandardOutput = true })!;
        var line = du.StandardOutput.ReadToEnd();
        du.WaitForExit();
        return long.Parse(line.Split('\t')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task ASparseGigabyte_IsCopiedWithItsHoles_ByteForByte()
    {
        var source = Path.Combine(_folder, "sparse.bin");
        await using (var s = new FileStream(source, FileMode.CreateNew))
        {
            s.SetLength(1L << 30);
            s.Seek(512L << 20, SeekOrigin.Begin);
            await s.WriteAsync("data in the middle"u8.ToArray());
        }

        var target = Path.Combine(_folder, "copy.bin");
        long copied;
        await using (var input = File.OpenRead(source))
        await using (var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write))
        {
            copied = await SparseCopy.CopyAsync(input, output, maxBytes: 0, CancellationToken.None);
        }

        Assert.Equal(1L << 30, copied);
        Assert.Equal(1L << 30, new FileInfo(target).Length);
        Assert.True(AllocatedKiB(target) < 1024, $"the copy allocated {AllocatedKiB(target)} KiB");
        await using var check = File.OpenRead(target);
        check.Seek(512L << 20, SeekOrigin.Begin);
        var middle = new byte[18];
        await check.ReadExactlyAsync(middle);
        Assert.Equal("data in the middle"u8.ToArray(), middle);
    }

    [Fact]
    public async Task AFileOverTheLimit_FailsNamingTheSetting()
    {
        var target = Path.Combine(_folder, "big.bin");
        await using var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write);
        using var input = new MemoryStream(new byte[200_000]);

        var error = await Assert.ThrowsAsync<FileTooLargeException>(() => SparseCopy.CopyAsync(input, output, maxBytes: 100_000, CancellationToken.None));

        Assert.Contains("CastIron:Processing:MaxFileBytes", error.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }
}
