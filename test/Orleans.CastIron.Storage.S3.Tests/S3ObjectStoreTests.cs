using System.Security.Cryptography;
using System.Text;
using Orleans.CastIron.Storage.S3.Providers;

namespace Orleans.CastIron.Storage.S3.Tests;

/// <summary>Every <see cref="IObjectStore"/> operation against the real S3 peer.</summary>
[Collection(S3Collection.Name)]
public sealed class S3ObjectStoreTests(S3Peer peer) : IAsyncLifetime
{
    private readonly string _bucket = S3Peer.NewBucket("store");
    private S3ObjectStore _store = null!;

    private IObjectStore Store => _store;

    public async Task InitializeAsync()
    {
        _store = new S3ObjectStore(peer.Options());
        await _store.EnsureBucketAsync(_bucket);
    }

    public Task DisposeAsync()
    {
        _store.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Ensuring_the_bucket_twice_is_harmless_and_a_new_bucket_is_empty()
    {
        await _store.EnsureBucketAsync(_bucket);
        Assert.Empty(await Store.ListAsync(_bucket, "", recursive: true).ToListAsync());
    }

    [Fact]
    public async Task Written_object_reads_back_with_its_metadata_lower_cased_and_content_type()
    {
        var written = await Store.WriteAsync(_bucket, "01_inbox/a.csv", new MemoryStream("x,y\n1,2\n"u8.ToArray()),
            new Dictionary<string, string> { ["OriginalFilename"] = "a.csv", ["id"] = "1234" }, "text/csv");

        var stat = await Store.StatAsync(_bucket, "01_inbox/a.csv");
        Assert.NotNull(stat);
        Assert.Equal(8, stat.Size);
        Assert.Equal(written.ETag, stat.ETag);
        Assert.False(string.IsNullOrEmpty(stat.ETag));
        Assert.DoesNotContain('"', stat.ETag);
        Assert.Equal("text/csv", stat.ContentType);
        Assert.Equal("a.csv", stat.Metadata["originalfilename"]);
        Assert.Equal("1234", stat.Metadata["id"]);
        Assert.Equal(2, stat.Metadata.Count);
        Assert.Equal("x,y\n1,2\n", await Store.ReadTextAsync(_bucket, "01_inbox/a.csv"));
    }

    [Fact]
    public async Task Missing_objects_are_null_on_stat_not_found_on_read_and_copy_and_nothing_on_delete()
    {
        Assert.Null(await Store.StatAsync(_bucket, "nope/missing.csv"));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.OpenReadAsync(_bucket, "nope/missing.csv"));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.CopyAsync(_bucket, "nope/missing.csv", "nope/b.csv", null));
        await Store.DeleteAsync(_bucket, "nope/missing.csv");
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.MoveAsync(_bucket, "nope/missing.csv", "nope/b.csv", null));
    }

    [Fact]
    public async Task Listing_is_recursive_or_direct_children_only_and_pages_past_a_thousand_keys()
    {
        await Store.WriteTextAsync(_bucket, "in/a.txt", "a");
        await Store.WriteTextAsync(_bucket, "in/sub/b.txt", "b");
        await Store.WriteTextAsync(_bucket, "other/c.txt", "c");
        await Store.WriteTextAsync(_bucket, "inbox-not-in/d.txt", "d");

        Assert.Equal(["in/a.txt"], await Store.ListAsync(_bucket, "in", recursive: false).Select(i => i.Key).ToListAsync());
        Assert.Equal(["in/a.txt", "in/sub/b.txt"], await Store.ListAsync(_bucket, "in/", recursive: true).Select(i => i.Key).ToListAsync());
        Assert.Equal(4, await Store.ListAsync(_bucket, "", recursive: true).CountAsync());

        await Parallel.ForEachAsync(Enumerable.Range(0, 1_050), new ParallelOptions { MaxDegreeOfParallelism = 16 },
            async (i, ct) => await Store.WriteTextAsync(_bucket, $"many/{i:D5}.txt", "x", cancellationToken: ct));
        var many = await Store.ListAsync(_bucket, "many", recursive: false).Select(i => i.Key).ToListAsync();
        Assert.Equal(1_050, many.Count);
        Assert.Equal(1_050, many.Distinct().Count());
    }

    [Fact]
    public async Task Copy_with_metadata_replaces_the_metadata_and_keeps_the_content_type_copy_without_keeps_both()
    {
        await Store.WriteAsync(_bucket, "src/a.json", new MemoryStream("{}"u8.ToArray()), new Dictionary<string, string> { ["status"] = "queued", ["keep"] = "1" }, "application/json");

        var replaced = await Store.CopyAsync(_bucket, "src/a.json", "dst/replaced.json", new Dictionary<string, string> { ["status"] = "processing" });
        Assert.Equal("application/json", replaced.ContentType);
        Assert.Equal(new Dictionary<string, string> { ["status"] = "processing" }, replaced.Metadata);

        var kept = await Store.CopyAsync(_bucket, "src/a.json", "dst/kept.json", null);
        Assert.Equal("application/json", kept.ContentType);
        Assert.Equal("queued", kept.Metadata["status"]);
        Assert.Equal("1", kept.Metadata["keep"]);
        Assert.Equal("{}", await Store.ReadTextAsync(_bucket, "dst/kept.json"));
    }

    [Fact]
    public async Task Metadata_values_in_unicode_or_with_newlines_round_trip()
    {
        var metadata = new Dictionary<string, string> { ["originalfilename"] = "ünïcødé 日本語 🙂.csv", ["note"] = "two\nlines", ["tricky"] = "=?UTF-8?B?not-mine?=" };
        await Store.WriteAsync(_bucket, "meta/a.csv", new MemoryStream("1"u8.ToArray()), metadata);
        Assert.Equal(metadata, (await Store.StatAsync(_bucket, "meta/a.csv"))!.Metadata);
        var moved = await Store.CopyAsync(_bucket, "meta/a.csv", "meta/b.csv", metadata);
        Assert.Equal(metadata, moved.Metadata);
    }

    [Fact]
    public async Task Move_onto_the_same_key_only_rewrites_metadata()
    {
        await Store.WriteAsync(_bucket, "same/a.csv", new MemoryStream("1"u8.ToArray()), new Dictionary<string, string> { ["status"] = "a" }, "text/csv");
        await Store.MoveAsync(_bucket, "same/a.csv", "same/a.csv", new Dictionary<string, string> { ["status"] = "b" });
        var stat = await Store.StatAsync(_bucket, "same/a.csv");
        Assert.Equal("b", stat!.Metadata["status"]);
        Assert.Equal("text/csv", stat.ContentType);
    }

    [Fact]
    public async Task Move_interrupted_between_copy_and_delete_completes_when_repeated_and_a_finished_move_is_a_no_op()
    {
        var metadata = new Dictionary<string, string> { ["id"] = "x" };
        await Store.WriteTextAsync(_bucket, "01_inbox/a.csv", "payload");

        // The crash: the copy happened, the delete did not.
        await Store.CopyAsync(_bucket, "01_inbox/a.csv", "02_processing/a.csv", metadata);
        await Store.MoveAsync(_bucket, "01_inbox/a.csv", "02_processing/a.csv", metadata);
        Assert.Null(await Store.StatAsync(_bucket, "01_inbox/a.csv"));
        Assert.Equal("payload", await Store.ReadTextAsync(_bucket, "02_processing/a.csv"));

        // Repeated after completion: nothing happens, nothing is lost.
        await Store.MoveAsync(_bucket, "01_inbox/a.csv", "02_processing/a.csv", metadata);
        Assert.Equal("x", (await Store.StatAsync(_bucket, "02_processing/a.csv"))!.Metadata["id"]);
    }

    [Theory]
    [InlineData("01_inbox/with space.csv")]
    [InlineData("01_inbox/plus+sign.csv")]
    [InlineData("01_inbox/percent%20literal%.csv")]
    [InlineData("01_inbox/ünïcødé-日本語-🙂.csv")]
    [InlineData("01_inbox/quotes'\"&=?#;.csv")]
    public async Task Keys_with_spaces_plus_percent_unicode_and_punctuation_round_trip(string key)
    {
        await Store.WriteTextAsync(_bucket, key, key);
        Assert.Equal(key, (await Store.StatAsync(_bucket, key))!.Key);
        Assert.Equal(key, await Store.ReadTextAsync(_bucket, key));
        Assert.Contains(key, await Store.ListAsync(_bucket, "01_inbox", recursive: false).Select(i => i.Key).ToListAsync());
        var moved = key.Replace("01_inbox/", "03_archive/", StringComparison.Ordinal);
        await Store.MoveAsync(_bucket, key, moved, new Dictionary<string, string> { ["originalfilename"] = "n" });
        Assert.Null(await Store.StatAsync(_bucket, key));
        Assert.Equal(key, await Store.ReadTextAsync(_bucket, moved));
    }

    [Fact]
    public async Task A_thousand_byte_key_round_trips()
    {
        // 1,000+ UTF-8 bytes in under 512 characters: the most the Minio SDK lets through (see the next test).
        var key = string.Join('/', Enumerable.Range(0, 5).Select(i => new string((char)('一' + i), 66))) + "/f.csv";
        Assert.InRange(Encoding.UTF8.GetByteCount(key), 1000, 1024);
        await Store.WriteTextAsync(_bucket, key, "long");
        Assert.Equal("long", await Store.ReadTextAsync(_bucket, key));
        Assert.Equal(key, Assert.Single(await Store.ListAsync(_bucket, key[..key.LastIndexOf('/')], recursive: false).ToListAsync()).Key);
    }

    [Fact]
    public async Task A_key_longer_than_the_sdk_handles_is_refused_with_a_message_saying_so_and_skipped_by_listings()
    {
        var key = "long/" + new string('k', 200) + "/" + new string('l', 200) + "/" + new string('m', 150) + ".csv";
        var error = await Assert.ThrowsAsync<ArgumentException>(() => Store.WriteTextAsync(_bucket, key, "x"));
        Assert.Contains("at most 512", error.Message);
        await Assert.ThrowsAsync<ArgumentException>(() => Store.StatAsync(_bucket, key));
    }

    [Fact]
    public async Task Keys_the_workflow_refuses_are_refused_before_any_request()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Store.StatAsync(_bucket, "../escape.csv"));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.WriteTextAsync(_bucket, "a\nb.csv", "x"));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.DeleteAsync(_bucket, "/abs.csv"));
    }

    [Fact]
    public async Task A_stream_of_unknown_length_is_written_and_a_large_object_streams_both_ways_with_the_same_bytes()
    {
        // 24 MiB: several parts up and a read far larger than the pipe's buffer down.
        var data = RandomNumberGenerator.GetBytes(24 * 1024 * 1024);
        await Store.WriteAsync(_bucket, "big/blob.bin", new NonSeekable(new MemoryStream(data)), new Dictionary<string, string> { ["k"] = "v" });
        var stat = await Store.StatAsync(_bucket, "big/blob.bin");
        Assert.Equal(data.Length, stat!.Size);
        Assert.False(string.IsNullOrEmpty(stat.ETag));

        await using var read = await Store.OpenReadAsync(_bucket, "big/blob.bin");
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[81920];
        int n;
        while ((n = await read.ReadAsync(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, n);
        }

        Assert.Equal(SHA256.HashData(data), hash.GetHashAndReset());
    }

    [Fact]
    public async Task A_reader_that_stops_early_does_not_leave_the_store_stuck()
    {
        await Store.WriteAsync(_bucket, "big/partial.bin", new MemoryStream(new byte[8 * 1024 * 1024]), new Dictionary<string, string>());
        for (var i = 0; i < 5; i++)
        {
            await using var read = await Store.OpenReadAsync(_bucket, "big/partial.bin");
            var buffer = new byte[1024];
            Assert.True(await read.ReadAsync(buffer) > 0);
        }

        Assert.NotNull(await Store.StatAsync(_bucket, "big/partial.bin"));
    }

    [Fact]
    public async Task Wrong_credentials_are_a_permanent_error_naming_the_key_and_the_servers_code()
    {
        using var wrong = new S3ObjectStore(peer.Options(o => o.SecretKey = "not-the-secret"));
        var error = await Assert.ThrowsAsync<ObjectStoreException>(() => ((IObjectStore)wrong).StatAsync(_bucket, "01_inbox/a.csv"));
        Assert.Contains("01_inbox/a.csv", error.Message);
        Assert.Contains(_bucket, error.Message);
    }

    [Fact]
    public async Task An_unreachable_server_is_retried_then_reported_with_the_endpoint()
    {
        using var nowhere = new S3ObjectStore(peer.Options(o =>
        {
            o.Host = "127.0.0.1";
            o.Port = S3Peer.FreePort();
            o.MaxAttempts = 3;
        }));
        var error = await Assert.ThrowsAsync<ObjectStoreException>(() => ((IObjectStore)nowhere).StatAsync(_bucket, "a.csv"));
        Assert.Contains("after 3 attempts", error.Message);
        Assert.Contains("127.0.0.1", error.Message);
    }

    private sealed class NonSeekable(Stream inner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
