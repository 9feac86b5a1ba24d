using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Orleans.CastIron.Storage;
using Orleans.CastIron.Storage.S3.Providers;
using Orleans.CastIron.Storage.S3.Tests;

namespace Orleans.CastIron.Silo.Tests;

/// <summary>
/// The seed's README walkthrough against a real S3 server, the silo as a user runs it (seed variables, shipped
/// settings): driven by real bucket notifications pushed to the webhook, then again with no notifications at all.
/// </summary>
[Collection(ClusterPeersCollection.Name)]
public sealed class S3WalkthroughTests(S3Peer peer) : IAsyncLifetime
{
    private readonly string _bucket = S3Peer.NewBucket("etl");
    private readonly string _token = Guid.NewGuid().ToString("N");
    private S3ObjectStore _client = null!;

    private IObjectStore Client => _client;

    private static string Example(string name) => Path.Combine(AppContext.BaseDirectory, "examples", name);

    public Task InitializeAsync()
    {
        _client = new S3ObjectStore(peer.Options());
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        _client.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Walkthrough_DrivenByRealBucketNotifications_ArchivesTheCsvComplete()
    {
        if (!peer.IsCeph)
        {
            return; // Pushing to a webhook is set up here through Ceph's topics; MinIO is configured by its operator.
        }

        var port = SiloFixture.FreePort();
        var arn = peer.CreateTopic($"castiron-{_bucket}", $"http://127.0.0.1:{port}/events/s3?token={_token}");
        // Reconciliation off: only the notifications can bring the config and the file in.
        await using var silo = StartSilo(port, arn, "--CastIron:ReconcileInterval=00:00:00");
        await silo.WaitForStdoutAsync(o => o.Contains($"Bucket notification on '{_bucket}' to {arn}: added", StringComparison.Ordinal), "the notification registration");

        var record = await RunWalkthroughAsync(silo);
        Assert.Contains("Example processor row: ", silo.Stdout, StringComparison.Ordinal);

        // Duplicated, replayed, reordered and spoofed events change nothing: each is checked against the object.
        var archived = $"03_archive/{record.GetProperty("id").GetString()}-test.csv";
        var original = await Client.StatAsync(_bucket, archived);
        foreach (var body in new[]
        {
            CephEvent("ObjectRemoved:Delete", archived),
            CephEvent("ObjectCreated:Put", "01_inbox/test.csv", etag: original!.ETag),
            CephEvent("ObjectCreated:Copy", $"01_inbox/{record.GetProperty("id").GetString()}-test.csv"),
            CephEvent("ObjectCreated:Put", "01_inbox/test.csv", etag: original.ETag),
            CephEvent("ObjectCreated:Put", archived, etag: original.ETag),
        })
        {
            using var answer = await silo.Http.PostAsync($"/events/s3?token={_token}", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        await Task.Delay(1500);
        Assert.Equal(original.ETag, (await Client.StatAsync(_bucket, archived))?.ETag);
        var all = await silo.Http.GetFromJsonAsync<JsonElement>("/files");
        Assert.Equal(1, all.GetArrayLength());
        Assert.Equal("Complete", all[0].GetProperty("status").GetString());
        Assert.Empty(await Client.ListAsync(_bucket, "01_inbox", recursive: false).Where(i => !i.Key.EndsWith(".keep", StringComparison.Ordinal)).ToListAsync());
    }

    [Fact]
    public async Task Walkthrough_WithEveryNotificationLost_IsCarriedByReconciliationAlone()
    {
        await using var silo = StartSilo(null, "", "--CastIron:ReconcileInterval=00:00:01", "--CastIron:ConfigReconcileInterval=00:00:01");
        await silo.WaitForStdoutAsync(o => o.Contains("No bucket notification registered", StringComparison.Ordinal), "the silo to start without notifications");

        await RunWalkthroughAsync(silo);
    }

    [Fact]
    public async Task A200MegabyteFile_GoesThroughTheWholeLifecycle_WithoutTheSiloHoldingIt()
    {
        const long Size = 200L * 1024 * 1024;
        await using var silo = StartSilo(null, "", "--CastIron:ReconcileInterval=00:00:01", "--CastIron:ConfigReconcileInterval=00:00:01");
        await silo.WaitForStdoutAsync(o => o.Contains($"S3 store at", StringComparison.Ordinal) && o.Contains("Now listening on:", StringComparison.Ordinal), "the silo to start");
        var counted = Path.Combine(silo.WorkingDirectory, "counted.txt");
        await Client.WriteTextAsync(_bucket, "big/cfg.toml", $"""
            [castiron.etl]
            enabled = true
            handled_file_glob = ".bin"
            inbox_dir = "01_inbox"
            processing_dir = "02_processing"
            archive_dir = "03_archive"
            error_dir = "04_failed"
            save_error_log = true
            shell = 'wc -c < "$ETL_FILENAME" > {counted}'
            """);
        await SiloFixture.WaitUntilAsync(async () => await Client.StatAsync(_bucket, "big/01_inbox/.keep") is not null, () => $"the stage folders\n{silo.Stdout}");

        var source = Path.Combine(silo.WorkingDirectory, "big.bin");
        await using (var file = File.Create(source))
        {
            var block = new byte[1024 * 1024];
            Random.Shared.NextBytes(block);
            for (var i = 0; i < Size / block.Length; i++)
            {
                block[0] = (byte)i;
                await file.WriteAsync(block);
            }
        }

        var baseline = Rss(silo.Id);
        var peak = baseline;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, Rss(silo.Id));
                await Task.Delay(50);
            }
        });
        await using (var file = File.OpenRead(source))
        {
            await Client.WriteAsync(_bucket, "big/01_inbox/big.bin", file, new Dictionary<string, string>(), "application/octet-stream");
        }

        JsonElement record = default;
        await SiloFixture.WaitUntilAsync(async () =>
        {
            var complete = await silo.Http.GetFromJsonAsync<JsonElement>("/files?status=Complete");
            record = complete.GetArrayLength() == 1 ? complete[0] : default;
            return complete.GetArrayLength() == 1;
        }, () => $"big.bin Complete\n{silo.Stdout}\n{silo.Stderr}");
        await sampling.CancelAsync();
        await sampler;

        Assert.Equal($"{Size}", (await File.ReadAllTextAsync(counted)).Trim());
        var archived = await Client.StatAsync(_bucket, $"big/03_archive/{record.GetProperty("id").GetString()}-big.bin");
        Assert.Equal(Size, archived!.Size);
        // The object passed through the silo (into the job folder) in a bounded buffer: its memory grew by far less than the file.
        var grew = peak - baseline;
        Assert.True(grew < 100L * 1024 * 1024, $"the silo's resident memory grew by {grew / (1024 * 1024)} MiB while a {Size / (1024 * 1024)} MiB file went through (baseline {baseline / (1024 * 1024)} MiB)");
    }

    /// <summary>Resident memory of a process, in bytes (Linux).</summary>
    private static long Rss(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }

    [Fact]
    public async Task Webhook_RequiresItsToken_BoundsTheBody_AndSaysWhatWasWrong()
    {
        await using var silo = StartSilo(null, "", "--CastIron:ReconcileInterval=00:00:00");
        await silo.WaitForStdoutAsync(o => o.Contains("Now listening on:", StringComparison.Ordinal), "the silo to listen");
        var valid = CephEvent("ObjectCreated:Put", "01_inbox/nothing.csv");

        using (var none = await silo.Http.PostAsync("/events/s3", Json(valid)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        }

        using (var wrong = new HttpRequestMessage(HttpMethod.Post, "/events/s3") { Content = Json(valid) })
        {
            wrong.Headers.Authorization = new("Bearer", _token[..^1] + "x");
            Assert.Equal(HttpStatusCode.Unauthorized, (await silo.Http.SendAsync(wrong)).StatusCode);
        }

        using (var bearer = new HttpRequestMessage(HttpMethod.Post, "/events/s3") { Content = Json(valid) })
        {
            bearer.Headers.Authorization = new("Bearer", _token);
            var answer = await silo.Http.SendAsync(bearer);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal(1, (await answer.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accepted").GetInt32());
        }

        var huge = "{\"Records\":[" + string.Join(',', Enumerable.Repeat(valid[12..^2], 40_000)) + "]}";
        Assert.True(huge.Length > 10_000_000);
        using (var tooBig = await silo.Http.PostAsync($"/events/s3?token={_token}", Json(huge)))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooBig.StatusCode);
        }

        // An event that cannot be acted on is acknowledged (a sender retrying it would hold back every later one),
        // counted as ignored, and says why; a body that is not JSON is refused.
        using (var hostile = await silo.Http.PostAsync($"/events/s3?token={_token}", Json("{\"Records\":[{\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"x\"},\"object\":{\"key\":\"../../etc/passwd\"}}}]}")))
        {
            Assert.Equal(HttpStatusCode.OK, hostile.StatusCode);
            var answer = await hostile.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(0, answer.GetProperty("accepted").GetInt32());
            Assert.Equal(1, answer.GetProperty("ignored").GetInt32());
            Assert.Contains("InvalidKey", answer.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        using (var tooLongForTheSdk = await silo.Http.PostAsync($"/events/s3?token={_token}", Json(CephEvent("ObjectCreated:Put", "01_inbox/" + new string('x', 240) + "/" + new string('y', 240) + "/" + new string('z', 100) + ".csv"))))
        {
            Assert.Equal(1, (await tooLongForTheSdk.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ignored").GetInt32());
        }

        using (var garbage = await silo.Http.PostAsync($"/events/s3?token={_token}", Json("{not json")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
            Assert.Contains("MalformedJson", await garbage.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var other = await silo.Http.PostAsync($"/events/s3?token={_token}", Json(valid.Replace("ObjectCreated:Put", "ObjectAccessed:Get", StringComparison.Ordinal))))
        {
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
            Assert.Equal(1, (await other.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ignored").GetInt32());
        }

        // Paused intake: the sender is asked to come back, nothing is dropped.
        using var key = new HttpRequestMessage(HttpMethod.Get, "/manager/stop-consumers");
        Assert.Equal(HttpStatusCode.OK, (await silo.Http.SendAsync(key)).StatusCode);
        using (var paused = await silo.Http.PostAsync($"/events/s3?token={_token}", Json(valid)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, paused.StatusCode);
        }
    }

    [Fact]
    public async Task Webhook_WithoutAConfiguredToken_IsOff()
    {
        var folder = Path.Combine(Path.GetTempPath(), "castiron-silo-process", Guid.NewGuid().ToString("N"));
        var environment = Environment();
        environment.Remove("CASTIRON_WEBHOOK_TOKEN");
        await using var silo = SiloProcess.StartWith(folder, ownsFolder: true, environment, null);
        await silo.WaitForStdoutAsync(o => o.Contains("Now listening on:", StringComparison.Ordinal), "the silo to listen");

        using var answer = await silo.Http.PostAsync("/events/s3", Json(CephEvent("ObjectCreated:Put", "01_inbox/a.csv")));
        Assert.Equal(HttpStatusCode.Forbidden, answer.StatusCode);
        Assert.Contains("CASTIRON_WEBHOOK_TOKEN", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>The seed README's steps on S3: config into the bucket, stage folders appear, test.csv into the inbox, archived Complete.</summary>
    private async Task<JsonElement> RunWalkthroughAsync(SiloProcess silo)
    {
        await silo.WaitForStdoutAsync(o => o.Contains("Now listening on:", StringComparison.Ordinal), "the silo to listen");
        await silo.WaitForStdoutAsync(o => o.Contains($"S3 store at {peer.Endpoint.ToString().TrimEnd('/')}, bucket '{_bucket}'", StringComparison.Ordinal), "the S3 store");

        await using (var config = File.OpenRead(Example("example_config.toml")))
        {
            await Client.WriteAsync(_bucket, "example_config.toml", config, new Dictionary<string, string>(), "application/toml");
        }

        await SiloFixture.WaitUntilAsync(async () => await Client.StatAsync(_bucket, "01_inbox/.keep") is not null, () => $"the stage folders\n{silo.Stdout}");
        await using (var csv = File.OpenRead(Example("test.csv")))
        {
            await Client.WriteAsync(_bucket, "01_inbox/test.csv", csv, new Dictionary<string, string>(), "text/csv");
        }

        JsonElement record = default;
        await SiloFixture.WaitUntilAsync(async () =>
        {
            var complete = await silo.Http.GetFromJsonAsync<JsonElement>("/files?status=Complete");
            record = complete.GetArrayLength() == 1 ? complete[0] : default;
            return complete.GetArrayLength() == 1;
        }, () => $"test.csv Complete\n{silo.Stdout}\n{silo.Stderr}");

        var id = record.GetProperty("id").GetString()!;
        var archived = await Client.StatAsync(_bucket, $"03_archive/{id}-test.csv");
        Assert.NotNull(archived);
        Assert.Equal("test.csv", archived.Metadata["originalfilename"]);
        Assert.Equal(id, archived.Metadata["id"]);
        Assert.Equal("text/csv", archived.ContentType);
        Assert.Equal(new FileInfo(Example("test.csv")).Length, archived.Size);
        Assert.Null(await Client.StatAsync(_bucket, "01_inbox/test.csv"));
        Assert.Empty(await Client.ListAsync(_bucket, "02_processing", recursive: false).Where(i => !i.Key.EndsWith(".keep", StringComparison.Ordinal)).ToListAsync());
        return record;
    }

    private SiloProcess StartSilo(int? port, string arn, params string[] arguments)
    {
        var folder = Path.Combine(Path.GetTempPath(), "castiron-silo-process", Guid.NewGuid().ToString("N"));
        var environment = Environment();
        environment["MINIO_NOTIFICATION_ARN_ETL_SOURCE_FILE"] = arn;
        return SiloProcess.StartWith(folder, ownsFolder: true, environment, port, arguments);
    }

    private Dictionary<string, string> Environment()
    {
        var environment = peer.SeedVariables();
        environment["MINIO_ETL_BUCKET"] = _bucket;
        environment["CASTIRON_WEBHOOK_TOKEN"] = _token;
        return environment;
    }

    private string CephEvent(string name, string key, string etag = "d41d8cd98f00b204e9800998ecf8427e") =>
        JsonSerializer.Serialize(new
        {
            Records = new[]
            {
                new
                {
                    eventVersion = "2.2",
                    eventSource = "ceph:s3",
                    eventName = name,
                    s3 = new { bucket = new { name = _bucket }, @object = new { key, size = 0, eTag = etag, sequencer = "0", metadata = Array.Empty<object>() } },
                },
            },
        });

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
