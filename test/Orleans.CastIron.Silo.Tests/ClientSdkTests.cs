using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.CastIron.Client;
using Orleans.CastIron.Files;
using Orleans.CastIron.Jobs;

namespace Orleans.CastIron.Silo.Tests;

/// <summary>
/// The .NET client SDK as another service uses it: an Orleans client connected to the real silo process (shipped
/// settings, the embedded default) through its gateway, with no access to the silo's folders.
/// </summary>
public sealed class ClientSdkTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "castiron-silo-process", Guid.NewGuid().ToString("N"));
    private SiloProcess _silo = null!;
    private IHost _host = null!;

    private ICastIronClient Client => _host.Services.GetRequiredService<ICastIronClient>();

    private string Bucket => Path.Combine(_folder, "data", "etl");

    /// <summary>Job folders and upload spools of this test's silos, in its folder rather than the machine's temp.</summary>
    private string WorkPath => Path.Combine(_folder, "work");

    private string WorkPathArgument => $"--CastIron:Processing:WorkPath={WorkPath}";

    private static string Example(string name) => Path.Combine(AppContext.BaseDirectory, "examples", name);

    public async Task InitializeAsync()
    {
        _silo = SiloProcess.StartWith(_folder, ownsFolder: true, null, null, WorkPathArgument);
        try
        {
            await StartAsync();
        }
        catch
        {
            // xunit does not dispose a class whose initialization failed: the silo process must not outlive the test.
            await _silo.DisposeAsync();
            throw;
        }
    }

    private async Task StartAsync()
    {
        await _silo.WaitForStdoutAsync(o => o.Contains("Now listening on:", StringComparison.Ordinal), "the silo to listen");
        Directory.CreateDirectory(Bucket);
        File.Copy(Example("example_config.toml"), Path.Combine(Bucket, "example_config.toml"));
        // A processor reporting its progress in ten steps through the pizza tracker.
        Directory.CreateDirectory(Path.Combine(Bucket, "steps"));
        await File.WriteAllTextAsync(Path.Combine(Bucket, "steps", "steps.toml"), """
            [castiron.etl]
            enabled = true
            handled_file_glob = ".dat"
            inbox_dir = "01_inbox"
            processing_dir = "02_processing"
            archive_dir = "03_archive"
            error_dir = "04_failed"
            save_error_log = true
            shell = 'echo "TASK counting" > "$PIZZA_TRACKER"; for i in 1 2 3 4 5 6 7 8 9 10; do echo "PROGRESS $i/10" > "$PIZZA_TRACKER"; sleep 0.2; done'
            """);
        await SiloFixture.WaitUntilAsync(() => Task.FromResult(File.Exists(Path.Combine(Bucket, "01_inbox", ".keep")) && File.Exists(Path.Combine(Bucket, "steps", "05_canceled", ".keep"))), () => "the stage folders");
        try
        {
            _host = await StartClientAsync($"127.0.0.1:{_silo.GatewayPort}");
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException($"the client could not connect: {ex.Message}\n{_silo.Stdout}\n{_silo.Stderr}", ex);
        }
    }

    public async Task DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        await _silo.DisposeAsync();
    }

    private static async Task<IHost> StartClientAsync(string gateway, string connectTimeout = "00:00:10")
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CastIron:Client:Gateways:0"] = gateway,
            ["CastIron:Client:ConnectTimeout"] = connectTimeout,
        });
        builder.Services.AddCastIronClient(builder.Configuration);
        var host = builder.Build();
        try
        {
            await host.StartAsync();
        }
        catch
        {
            host.Dispose();
            throw;
        }

        return host;
    }

    [Fact]
    public async Task SubmittedByConfigFileName_TheQuickStartsCsv_IsComplete_ListedAndArchivedUnderItsId()
    {
        var submitted = await Client.SubmitAsync(Example("test.csv"), "example_config.toml");

        Assert.Equal("example_config.toml", submitted.ConfigKey);
        Assert.Equal("01_inbox/test.csv", submitted.Key);
        Assert.Equal(new FileInfo(Example("test.csv")).Length, submitted.Size);
        FileStatusRecord? record = null;
        await SiloFixture.WaitUntilAsync(async () => (record = await Client.GetFileAsync(submitted.FileId))?.Status == FileStatus.Complete,
            () => $"the file Complete (now {record?.Status})\n{_silo.Stdout}");
        Assert.Equal("test.csv", record!.OriginalFilename);
        Assert.Contains(await Client.ListFilesAsync(FileStatus.Complete), r => r.Id == submitted.FileId);
        Assert.Equal(File.ReadAllBytes(Example("test.csv")), File.ReadAllBytes(Path.Combine(Bucket, "03_archive", $"{submitted.FileId}-test.csv")));

        // Commands by id answer as the REST API does.
        Assert.False((await Client.CancelAsync(submitted.FileId)).Accepted);
        Assert.False((await Client.RetryAsync("not-an-id")).Accepted);
        Assert.Null(await Client.GetFileAsync("not-an-id"));
    }

    [Fact]
    public async Task Watching_SeesEveryProgressStepInOrder_AndTheFinalStatus_AndAWatcherThatReconnectsMissesNothing()
    {
        var submitted = await Client.SubmitAsync(new MemoryStream("x\n"u8.ToArray()), "steps.dat", "steps.toml");

        // The first watcher goes away after three events; the second resumes after the last it saw.
        var first = new List<FileJobEvent>();
        await foreach (var update in Client.WatchAsync(submitted.FileId))
        {
            first.Add(update);
            if (first.Count == 3)
            {
                break;
            }
        }

        var second = new List<FileJobEvent>();
        await foreach (var update in Client.WatchAsync(submitted.FileId, after: first[^1].Sequence))
        {
            second.Add(update);
        }

        var all = first.Concat(second).ToList();
        Assert.Equal(Enumerable.Range(1, all.Count).Select(i => (long)i), all.Select(e => e.Sequence));
        Assert.Equal(JobEventType.JobCreated, all[0].Event.Type);
        Assert.Equal("counting", all[1].Event.Task);
        Assert.Equal(Enumerable.Range(1, 10).Select(i => i / 10.0), all.Where(e => e.Event.Progress is not null).Select(e => e.Event.Progress!.Value));
        Assert.Equal("success", all[^1].Event.Status);
        Assert.Equal(FileStatus.Complete, (await Client.GetFileAsync(submitted.FileId))!.Status);
        // Watching a finished file replays its events and ends.
        Assert.Equal(all.Select(e => e.Sequence), await Client.WatchAsync(submitted.FileId).Select(e => e.Sequence).ToListAsync());
    }

    [Fact]
    public async Task TheEventStreamRoute_SendsEventsAsTheyHappen_AndResumesFromLastEventId()
    {
        var submitted = await Client.SubmitAsync(new MemoryStream("x\n"u8.ToArray()), "sse.dat", "steps.toml");

        var first = await ReadStreamAsync($"/files/{submitted.FileId}/events", lastEventId: null, stopAfter: 4);
        Assert.Equal(["1", "2", "3", "4"], first.Select(e => e.Id));
        var jobId = (await Client.GetFileAsync(submitted.FileId))!.JobId!;
        var rest = await ReadStreamAsync($"/jobs/{jobId}/events", lastEventId: "4", stopAfter: int.MaxValue);

        var all = first.Concat(rest).ToList();
        Assert.Equal(Enumerable.Range(1, all.Count).Select(i => $"{i}"), all.Select(e => e.Id));
        Assert.Contains($"\"job_id\":\"{jobId}\"", all[0].Data, StringComparison.Ordinal);
        Assert.Equal($$"""{"type":"job_update","job_id":"{{jobId}}","status":"success"}""", all[^1].Data);
        // A position that is not a count of events is refused, naming it.
        using (var bad = await _silo.Http.GetAsync($"/jobs/{jobId}/events?after=-1"))
        {
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Contains("after must be a whole number of events, not '-1'", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Plain JSON as before: the seed's event JSON, in order.
        var plain = await _silo.Http.GetStringAsync($"/jobs/{jobId}/events");
        Assert.Equal("[" + string.Join(",", all.Select(e => e.Data)) + "]", plain);
    }

    [Fact]
    public async Task FiveHundredEventStreams_OnOneRunningFile_EachGetEveryEventInOrder_AndTheEnd()
    {
        const int Watchers = 500;
        var submitted = await Client.SubmitAsync(new MemoryStream("x\n"u8.ToArray()), "crowd.dat", "steps.toml");

        // All connected while the processor runs (two seconds of PROGRESS steps), each waiting on the job's feed.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var streams = await Task.WhenAll(Enumerable.Range(0, Watchers).Select(_ => Task.Run(() => ReadStreamAsync($"/files/{submitted.FileId}/events", lastEventId: null, stopAfter: int.MaxValue))));
        var elapsed = clock.Elapsed;

        var expected = streams[0].Select(e => e.Id).ToList();
        Assert.Equal(Enumerable.Range(1, expected.Count).Select(i => $"{i}"), expected);
        Assert.Contains("\"status\":\"success\"", streams[0][^1].Data, StringComparison.Ordinal);
        Assert.All(streams, s => Assert.Equal(streams[0], s));
        // The steps: created, TASK, ten PROGRESS, and the final status at least.
        Assert.True(expected.Count >= 13, $"{expected.Count} events");
        Assert.True(elapsed < TimeSpan.FromSeconds(60), $"{Watchers} streams took {elapsed}");
    }

    /// <summary>Reads Server-Sent Events until <paramref name="stopAfter"/> events or the stream's end event.</summary>
    private async Task<List<(string Id, string Data)>> ReadStreamAsync(string route, string? lastEventId, int stopAfter)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, route);
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (lastEventId is not null)
        {
            request.Headers.Add("Last-Event-ID", lastEventId);
        }

        using var response = await _silo.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = new List<(string Id, string Data)>();
        string? id = null, name = null, data = null;
        while (await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)) is { } line)
        {
            if (line.Length == 0)
            {
                if (name == "end")
                {
                    break;
                }

                if (name == "job_event")
                {
                    events.Add((id!, data!));
                    if (events.Count == stopAfter)
                    {
                        break;
                    }
                }

                (id, name, data) = (null, null, null);
            }
            else if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                id = line[4..];
            }
            else if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                data = line[6..];
            }
        }

        return events;
    }

    [Fact]
    public async Task TheReadmesTenLineExample_SubmitsAFile_AndPrintsItsEventsLive()
    {
        var example = BuiltProject("examples", "Orleans.CastIron.SdkExample", "Orleans.CastIron.SdkExample");
        var start = new System.Diagnostics.ProcessStartInfo(example) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _folder };
        start.ArgumentList.Add(Example("test.csv"));
        start.ArgumentList.Add("example_config.toml");
        start.Environment["CASTIRON_GATEWAY"] = $"127.0.0.1:{_silo.GatewayPort}";
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync();

        Assert.Equal(0, process.ExitCode);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("submitted ", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("1 JobCreated", lines[1], StringComparison.Ordinal);
        Assert.EndsWith("status=success", lines[^2], StringComparison.Ordinal);
        Assert.Equal("Complete", lines[^1]);
    }

    /// <summary>An executable as its own project built it (built with this test project, in the same configuration).</summary>
    internal static string BuiltProject(string folder, string project, string assembly)
    {
        var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var repo = testBin;
        while (repo is not null && !File.Exists(Path.Combine(repo.FullName, "Orleans.CastIron.sln")))
        {
            repo = repo.Parent;
        }

        var binary = Path.Combine(repo!.FullName, folder, project, "bin", testBin.Parent!.Name, testBin.Name, assembly);
        Assert.True(File.Exists(binary), $"{project} is not built at {binary}");
        return binary;
    }

    [Fact]
    public async Task ALargeFile_GoesUpInChunks_AndArrivesWhole()
    {
        // 5 MiB of CSV lines: six chunks of at most 1 MiB.
        var text = new StringBuilder("id,value\n");
        for (var i = 0; text.Length < 5 * 1024 * 1024; i++)
        {
            text.Append(i).Append(",row-").Append(i).Append('\n');
        }

        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        var submitted = await Client.SubmitAsync(new MemoryStream(bytes), "large.csv", "example_config.toml", "text/csv");

        await SiloFixture.WaitUntilAsync(async () => (await Client.GetFileAsync(submitted.FileId))?.Status == FileStatus.Complete, () => $"the large file Complete\n{_silo.Stdout}");
        Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(Bucket, "03_archive", $"{submitted.FileId}-large.csv")));
        // Nothing of the upload is left in the silo's work folder.
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(_folder), "*upload*", SearchOption.AllDirectories));
    }

    [Theory]
    [InlineData("nope.toml", "test.csv", "no config 'nope.toml' is registered; registered: example_config.toml")]
    [InlineData("example_config.toml", "notes.txt", "'notes.txt' is not a file config 'example_config.toml' takes (handled_file_glob '.csv|.CSV')")]
    [InlineData("example_config.toml", "bad\nname.csv", "'bad\nname.csv' cannot be submitted")]
    [InlineData("example_config.toml", "../escape.csv", "must be one non-empty path segment")]
    public async Task ASubmissionTheClusterCannotTake_IsRefusedNamingWhy_AndLeavesNothingInTheInbox(string config, string name, string expected)
    {
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => Client.SubmitAsync(new MemoryStream("a,b\n"u8.ToArray()), name, config));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Directory.EnumerateFiles(Path.Combine(Bucket, "01_inbox")), f => !f.EndsWith(".keep", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ASiloKilledMidUpload_FailsTheSubmit_LeavesNothingInTheInbox_AndItsSpoolIsRemovedAtRestart()
    {
        var content = new GatedStream(chunksBeforeGate: 3, chunkBytes: 1024 * 1024, totalChunks: 8);
        var submit = Client.SubmitAsync(content, "big.dat", "steps.toml");
        await content.GateReached.WaitAsync(TimeSpan.FromSeconds(60));
        // Three 1 MiB chunks sent; the fourth waits for the gate. The spool holds what came.
        await SiloFixture.WaitUntilAsync(() => Task.FromResult(Spools().Any(s => new FileInfo(Path.Combine(s, "content")) is { Exists: true, Length: >= 2 * 1024 * 1024 })), () => "the upload spooled on the silo");
        var spool = Assert.Single(Spools());

        await _silo.StopAsync(kill: true);
        content.Open();

        var error = await Assert.ThrowsAnyAsync<Exception>(() => submit.WaitAsync(TimeSpan.FromSeconds(90)));
        Assert.IsNotType<TimeoutException>(error);
        Assert.DoesNotContain(Directory.EnumerateFiles(Bucket, "*big.dat*", SearchOption.AllDirectories), f => true);
        Assert.True(Directory.Exists(spool), "the killed silo's spool is there until a silo starts");

        // A silo started on the machine removes what the dead process left (the folder name carries its pid).
        await using var restarted = SiloProcess.StartWith(_folder, ownsFolder: false, null, null, WorkPathArgument);
        await restarted.WaitForStdoutAsync(o => o.Contains("Now listening on:", StringComparison.Ordinal), "the restarted silo to listen");
        await SiloFixture.WaitUntilAsync(() => Task.FromResult(!Directory.Exists(spool)), () => $"the dead silo's spool {spool} removed");
        Assert.DoesNotContain(Directory.EnumerateFiles(Bucket, "*big.dat*", SearchOption.AllDirectories), f => true);
    }

    private string[] Spools() => Directory.Exists(WorkPath) ? Directory.GetDirectories(WorkPath, "p*-upload-*") : [];

    /// <summary>Content that stops after <c>chunksBeforeGate</c> chunks until <see cref="Open"/> is called.</summary>
    private sealed class GatedStream(int chunksBeforeGate, int chunkBytes, int totalChunks) : Stream
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _position;

        public Task GateReached => _reached.Task;

        public void Open() => _gate.TrySetResult();

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position >= (long)chunksBeforeGate * chunkBytes)
            {
                _reached.TrySetResult();
                await _gate.Task.WaitAsync(cancellationToken);
            }

            var left = (long)totalChunks * chunkBytes - _position;
            var count = (int)Math.Min(Math.Min(buffer.Length, left), chunkBytes - (_position % chunkBytes));
            buffer.Span[..count].Fill((byte)'x');
            _position += count;
            return count;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task Configs_AreListed_AndTextIsValidatedWithLineAndColumn()
    {
        var configs = await Client.ListConfigsAsync();
        Assert.True(Assert.Single(configs, c => c.ConfigKey == "example_config.toml").Registered);

        var result = await Client.ValidateConfigAsync("[castiron.etl]\nenabled = true\nhandled_file_glob = \"[\"\n", "mine.toml");
        Assert.False(result.IsValid);
        Assert.Contains(result.Errors, e => e.Key.Contains("handled_file_glob", StringComparison.Ordinal) && e.Line == 3 && e.Column > 0);
        Assert.True((await Client.ValidateConfigAsync(File.ReadAllText(Example("example_config.toml")))).IsValid);
    }

    [Fact]
    public async Task AClusterThatIsNotThere_FailsTheStartWithinTheConnectTimeout()
    {
        var started = DateTime.UtcNow;
        await Assert.ThrowsAnyAsync<Exception>(() => StartClientAsync($"127.0.0.1:{SiloFixture.FreePort()}", "00:00:02"));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(30), "connecting was not given up in time");
    }
}
