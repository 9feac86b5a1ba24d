using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Orleans.CastIron.Telemetry;

namespace Orleans.CastIron.Silo.Tests;

/// <summary><c>/health/live</c>, <c>/health/ready</c>, metrics and traces of the file workflow, on the shared silo.</summary>
[Collection(SiloCollection.Name)]
public class ObservabilityTests(SiloFixture silo)
{
    private static string Seed(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "examples", name));

    [Fact]
    public async Task Live_Answers200_WithoutAnApiKey()
    {
        using var response = await silo.Http.GetAsync("/health/live");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"status":"live"}""", await response.Content.ReadAsStringAsync());
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Ready_OnTheEmbeddedDefault_Is200_AndListsEachCheck()
    {
        using var response = await silo.Http.GetAsync("/health/ready");

        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToString());
        Assert.Equal("ready", body.GetProperty("status").GetString());
        var checks = body.GetProperty("checks").EnumerateArray().ToList();
        // Kafka and Redis are not configured: not checked.
        Assert.Equal(["object-store", "orleans", "status-store"], checks.Select(c => c.GetProperty("name").GetString()));
        Assert.All(checks, c => Assert.Equal("healthy", c.GetProperty("status").GetString()));
        Assert.Contains("this silo is Active", checks.Single(c => c.GetProperty("name").GetString() == "orleans").GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains("bucket 'etl' answered", checks.Single(c => c.GetProperty("name").GetString() == "object-store").GetProperty("reason").GetString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// The seed's CSV through the seed's config (in a folder of its own): its attempt's duration is recorded with the
    /// processor kind and outcome, each status it passes through is counted, and its trace has the intake, the job's
    /// calls, the attempt (under the job call that asked for its slot) and the final move, each with the file id.
    /// </summary>
    [Fact]
    public async Task ProcessingAFile_RecordsDurationAndTransitions_AndTracesItsJob()
    {
        var durations = new ConcurrentQueue<(double Value, Dictionary<string, object?> Tags)>();
        var transitions = new ConcurrentQueue<(long Value, Dictionary<string, object?> Tags)>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == CastIronTelemetry.Name && instrument.Name is "castiron.processing.duration" or "castiron.file.status_transitions")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<double>((instrument, value, tags, _) => durations.Enqueue((value, ToDictionary(tags))));
        meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) => transitions.Enqueue((value, ToDictionary(tags))));
        meters.Start();
        var activities = new ConcurrentQueue<Activity>();
        using var traces = new ActivityListener
        {
            ShouldListenTo = source => source.Name == CastIronTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activities.Enqueue,
        };
        ActivitySource.AddActivityListener(traces);

        var started = Stopwatch.StartNew();
        var id = await ProcessSeedCsvAsync(silo.Http, silo.DropAsync, "telemetry", "telemetry.csv");
        var elapsed = started.Elapsed;

        // Other silos of this test run may process files meanwhile: at least this one's attempt is there.
        Assert.Contains(durations, d => Equals(d.Tags.GetValueOrDefault(CastIronTelemetry.ProcessorKindTag), "python")
            && Equals(d.Tags.GetValueOrDefault(CastIronTelemetry.AttemptOutcomeTag), "succeeded") && d.Value > 0 && d.Value < elapsed.TotalSeconds);
        foreach (var status in new[] { "Queued", "Processing", "Complete" })
        {
            Assert.Contains(transitions, t => t.Value == 1 && Equals(t.Tags.GetValueOrDefault(CastIronTelemetry.StatusTag), status));
        }

        // The job's spans end when its calls return, a moment after the status the test waited for.
        await SiloFixture.WaitUntilAsync(() => Task.FromResult(activities.Any(a => a.OperationName == "castiron.final_move" && Tag(a, CastIronTelemetry.FileIdTag) == id)), () => "the final move's span");
        var ofFile = activities.Where(a => Tag(a, CastIronTelemetry.FileIdTag) == id).ToList();
        // The drop's event (a scan may announce it too before it is renamed).
        Assert.Contains(ofFile, a => a.OperationName == "castiron.intake" && Tag(a, CastIronTelemetry.ObjectKeyTag) == "telemetry/01_inbox/telemetry.csv");
        var jobCalls = ofFile.Where(a => a.OperationName == "castiron.filejob").ToList();
        Assert.Contains(jobCalls, a => a.DisplayName == "castiron.filejob ObjectSeen");
        Assert.Contains(jobCalls, a => a.DisplayName == "castiron.filejob RunEnded" && Tag(a, CastIronTelemetry.StatusTag) == "Complete");
        var attempt = Assert.Single(ofFile, a => a.OperationName == "castiron.attempt");
        Assert.Equal("python", Tag(attempt, CastIronTelemetry.ProcessorKindTag));
        Assert.Equal("succeeded", Tag(attempt, CastIronTelemetry.AttemptOutcomeTag));
        Assert.Contains(jobCalls, a => a.SpanId == attempt.ParentSpanId);
        var jobId = Tag(attempt, CastIronTelemetry.JobIdTag);
        Assert.False(string.IsNullOrEmpty(jobId));
        var move = Assert.Single(ofFile, a => a.OperationName == "castiron.final_move");
        Assert.Equal($"telemetry/03_archive/{id}-telemetry.csv", Tag(move, "castiron.move.to"));
        Assert.Equal(jobId, Tag(move, CastIronTelemetry.JobIdTag));
    }

    /// <summary>Drops the seed's config into <paramref name="folder"/> and the seed's CSV into its inbox; returns the file id once Complete.</summary>
    internal static async Task<string> ProcessSeedCsvAsync(HttpClient http, Func<string, string, Task> drop, string folder, string name)
    {
        await drop($"{folder}/example_config.toml", Seed("example_config.toml"));
        await SiloFixture.WaitUntilAsync(async () =>
        {
            var processors = await http.GetFromJsonAsync<JsonElement>("/processors");
            return processors.EnumerateArray().Any(p => p.GetProperty("config_key").GetString() == $"{folder}/example_config.toml" && p.GetProperty("registered").GetBoolean());
        }, () => $"{folder}/example_config.toml to be registered");
        await drop($"{folder}/01_inbox/{name}", Seed("test.csv"));
        string? id = null;
        await SiloFixture.WaitUntilAsync(async () =>
        {
            var files = await http.GetFromJsonAsync<JsonElement>("/files?status=Complete&limit=100000");
            id = files.EnumerateArray().Where(f => f.GetProperty("original_filename").GetString() == name && f.GetProperty("file_name").GetString()!.StartsWith($"{folder}/", StringComparison.Ordinal))
                .Select(f => f.GetProperty("id").GetString()).FirstOrDefault();
            return id is not null;
        }, () => $"{folder}/01_inbox/{name} to be Complete");
        return id!;
    }

    internal static string? Tag(Activity activity, string name) => activity.GetTagItem(name)?.ToString();

    private static Dictionary<string, object?> ToDictionary(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in tags)
        {
            result[key] = value;
        }

        return result;
    }
}

/// <summary>Health routes of silos started for one test: Orleans stopped, Kafka unreachable.</summary>
public class HealthTests
{
    private static async Task<(WebApplication App, HttpClient Http, string Root)> StartAsync(IDictionary<string, string?> environment, params string[] arguments)
    {
        var root = Path.Combine(Path.GetTempPath(), "castiron-silo-tests", Guid.NewGuid().ToString("N"));
        var app = SiloHost.Build([.. SiloFixture.Arguments(root), .. arguments], environment);
        await app.StartAsync();
        var http = new HttpClient { BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()) };
        return (app, http, root);
    }

    private static async Task StopAsync(WebApplication app, HttpClient http, string root)
    {
        http.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body, TimeSpan Took)> GetAsync(HttpClient http, string path)
    {
        var clock = Stopwatch.StartNew();
        using var response = await http.GetAsync(path);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (response.StatusCode, body, clock.Elapsed);
    }

    private static JsonElement Check(JsonElement body, string name) =>
        body.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    [Fact]
    public async Task WithOrleansStopped_LiveStillAnswersAtOnce_AndReadyIs503NamingOrleans()
    {
        var (app, http, root) = await StartAsync(new Dictionary<string, string?>());
        try
        {
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "/health/ready")).Status);

            // The Orleans part stops; the process keeps serving HTTP.
            await app.Services.GetRequiredService<Orleans.Runtime.Silo>().StopAsync(CancellationToken.None);

            var live = await GetAsync(http, "/health/live");
            Assert.Equal(HttpStatusCode.OK, live.Status);
            Assert.Equal("live", live.Body.GetProperty("status").GetString());
            Assert.True(live.Took < TimeSpan.FromSeconds(1), $"/health/live took {live.Took}");

            var ready = await GetAsync(http, "/health/ready");
            Assert.True(ready.Status == HttpStatusCode.ServiceUnavailable, ready.Body.ToString());
            Assert.Equal("not ready", ready.Body.GetProperty("status").GetString());
            var orleans = Check(ready.Body, "orleans");
            Assert.Equal("unhealthy", orleans.GetProperty("status").GetString());
            Assert.Contains("not Active", orleans.GetProperty("reason").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            await StopAsync(app, http, root);
        }
    }

    /// <summary>
    /// <c>KAFKA_BROKER</c> on a closed port: the silo still starts (its Kafka readers wait for the broker), live is
    /// 200, ready is 503 naming Kafka and the broker within its time bound, and a second probe reuses the answer.
    /// </summary>
    [Fact]
    public async Task WithKafkaUnreachable_TheSiloStarts_AndReadyIs503NamingKafka()
    {
        var clock = Stopwatch.StartNew();
        var (app, http, root) = await StartAsync(new Dictionary<string, string?> { ["KAFKA_BROKER"] = "127.0.0.1:1" });
        var startedIn = clock.Elapsed;
        try
        {
            Assert.True(startedIn < TimeSpan.FromSeconds(60), $"start took {startedIn}");
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "/health/live")).Status);

            var ready = await GetAsync(http, "/health/ready");
            Assert.True(ready.Status == HttpStatusCode.ServiceUnavailable, ready.Body.ToString());
            var kafka = Check(ready.Body, "kafka");
            Assert.Equal("unhealthy", kafka.GetProperty("status").GetString());
            Assert.Contains("'127.0.0.1:1'", kafka.GetProperty("reason").GetString(), StringComparison.Ordinal);
            Assert.Equal("healthy", Check(ready.Body, "orleans").GetProperty("status").GetString());
            Assert.Equal("healthy", Check(ready.Body, "object-store").GetProperty("status").GetString());
            Assert.True(ready.Took < TimeSpan.FromSeconds(4), $"/health/ready took {ready.Took}");

            // Cached: the second probe does not ask the broker again.
            var again = await GetAsync(http, "/health/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, again.Status);
            Assert.True(again.Took < TimeSpan.FromSeconds(1), $"the second /health/ready took {again.Took}");
            Assert.Equal(kafka.GetProperty("reason").GetString(), Check(again.Body, "kafka").GetProperty("reason").GetString());
        }
        finally
        {
            await StopAsync(app, http, root);
        }
    }

    /// <summary>
    /// A silo in a cluster on a real redis-server (<c>CASTIRON_REDIS</c>): ready checks Redis over the cluster's
    /// connection; with the server frozen (SIGSTOP: connections open, nothing answered), ready is 503 naming Redis
    /// within its time bound and live still answers; thawed, ready again. (Against <c>REDIS_CONNECTION_STRING</c>, a
    /// server the test does not own, only the first part runs.)
    /// </summary>
    [Fact]
    public async Task WithRedis_ReadyChecksIt_AndIs503NamingItWhileItDoesNotAnswer()
    {
        using var redis = new Redis.Tests.RedisPeer();
        var cluster = "health-" + Guid.NewGuid().ToString("N")[..8];
        var (app, http, root) = await StartAsync(new Dictionary<string, string?>
        {
            ["CASTIRON_REDIS"] = redis.ConnectionString,
            ["CASTIRON_CLUSTER_ID"] = cluster,
            ["CASTIRON_SERVICE_ID"] = cluster,
            ["CASTIRON_ADVERTISED_ADDRESS"] = "127.0.0.1",
        });
        try
        {
            var ready = await GetAsync(http, "/health/ready");
            Assert.True(ready.Status == HttpStatusCode.OK, ready.Body.ToString());
            var check = Check(ready.Body, "redis");
            Assert.Equal("healthy", check.GetProperty("status").GetString());
            Assert.StartsWith("PING answered in", check.GetProperty("reason").GetString(), StringComparison.Ordinal);
            if (!string.IsNullOrWhiteSpace(System.Environment.GetEnvironmentVariable("REDIS_CONNECTION_STRING")))
            {
                return;
            }

            string pid;
            using (var admin = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true"))
            {
                var server = admin.GetServer(admin.GetEndPoints()[0]);
                pid = (await server.InfoAsync("server")).SelectMany(g => g).Single(kv => kv.Key == "process_id").Value;
            }

            await SignalAsync("-STOP", pid);
            try
            {
                var frozen = await GetAsync(http, "/health/ready");
                Assert.True(frozen.Status == HttpStatusCode.ServiceUnavailable, frozen.Body.ToString());
                var down = Check(frozen.Body, "redis");
                Assert.Equal("unhealthy", down.GetProperty("status").GetString());
                Assert.Equal("Redis did not answer within 2 s", down.GetProperty("reason").GetString());
                Assert.True(frozen.Took < TimeSpan.FromSeconds(4), $"/health/ready took {frozen.Took}");
                Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "/health/live")).Status);
            }
            finally
            {
                await SignalAsync("-CONT", pid);
            }

            await SiloFixture.WaitUntilAsync(async () => (await GetAsync(http, "/health/ready")).Status == HttpStatusCode.OK, () => "ready again once Redis answers");
        }
        finally
        {
            await StopAsync(app, http, root);
        }
    }

    private static async Task SignalAsync(string signal, string pid)
    {
        using var kill = Process.Start("kill", [signal, pid]);
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>The check on its own, over a connection of its own, against a closed port: unhealthy within its bound.</summary>
    [Fact]
    public async Task RedisCheck_WithoutAClusterConnection_IsUnhealthyWithinItsBound_OnAClosedPort()
    {
        using var check = new Observability.RedisHealthCheck("127.0.0.1:1");
        var clock = Stopwatch.StartNew();

        var result = await check.CheckHealthAsync(new Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext());

        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy, result.Status);
        Assert.StartsWith("Redis", result.Description, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"took {clock.Elapsed}");
    }
}

/// <summary>OpenTelemetry wired in the silo: OTLP export when an endpoint is set, one trace per file, the dashboard untouched.</summary>
public class TelemetryExportTests
{
    /// <summary>
    /// A stand-in OTLP collector (OTLP over HTTP with protobuf bodies) on loopback; the silo exports to it when
    /// <c>CastIron:Telemetry:OtlpEndpoint</c> names it. The payloads are protobuf: the test looks for the strings it
    /// knows (instrument names, the file id) in their bytes.
    /// </summary>
    [Fact]
    public async Task WithAnOtlpEndpoint_MetricsAndTracesAreExported_AndAFileIsOneTrace()
    {
        var received = new ConcurrentQueue<(string Path, byte[] Body)>();
        var collectorBuilder = WebApplication.CreateSlimBuilder();
        collectorBuilder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var collector = collectorBuilder.Build();
        foreach (var path in new[] { "/v1/traces", "/v1/metrics" })
        {
            collector.MapPost(path, async (Microsoft.AspNetCore.Http.HttpRequest request) =>
            {
                using var body = new MemoryStream();
                await request.Body.CopyToAsync(body);
                received.Enqueue((path, body.ToArray()));
                return Microsoft.AspNetCore.Http.Results.Ok();
            });
        }

        await collector.StartAsync();
        var endpoint = collector.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        var activities = new ConcurrentQueue<Activity>();
        using var traces = new ActivityListener
        {
            ShouldListenTo = source => source.Name == CastIronTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activities.Enqueue,
        };
        ActivitySource.AddActivityListener(traces);

        var root = Path.Combine(Path.GetTempPath(), "castiron-silo-tests", Guid.NewGuid().ToString("N"));
        await using var app = SiloHost.Build(
            [
                .. SiloFixture.Arguments(root),
                $"--CastIron:Telemetry:OtlpEndpoint={endpoint}",
                "--CastIron:Telemetry:OtlpProtocol=http/protobuf",
                // Export soon rather than every 5 s (spans) and 60 s (metrics).
                "--OTEL_BSP_SCHEDULE_DELAY=200",
                "--OTEL_METRIC_EXPORT_INTERVAL=500",
            ],
            new Dictionary<string, string?>());
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()) };
        try
        {
            var bucket = Path.Combine(root, "etl");
            var id = await ObservabilityTests.ProcessSeedCsvAsync(http, async (key, content) =>
            {
                var path = Path.Combine(bucket, key);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                await File.WriteAllTextAsync(path, content);
            }, "otlp", "otlp.csv");

            bool Exported(string path, params string[] texts) =>
                received.Any(r => r.Path == path && texts.All(t => r.Body.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(t)) >= 0));
            await SiloFixture.WaitUntilAsync(() => Task.FromResult(Exported("/v1/traces", "castiron.final_move", id)), () => "the file's final move exported");
            await SiloFixture.WaitUntilAsync(() => Task.FromResult(Exported("/v1/traces", "castiron.attempt", id)), () => "the file's attempt exported");
            await SiloFixture.WaitUntilAsync(() => Task.FromResult(Exported("/v1/metrics", "castiron.processing.duration", "castiron.file.status_transitions")), () => "Cast Iron's metrics exported");
            await SiloFixture.WaitUntilAsync(() => Task.FromResult(Exported("/v1/metrics", Observability.TelemetrySetup.OrleansMeter)), () => "Orleans' metrics exported");

            // Trace context goes through grain calls: from the intake to the final move, one trace.
            var ofFile = activities.Where(a => ObservabilityTests.Tag(a, CastIronTelemetry.FileIdTag) == id).ToList();
            var intake = ofFile.First(a => a.OperationName == "castiron.intake");
            var attempt = Assert.Single(ofFile, a => a.OperationName == "castiron.attempt");
            var move = Assert.Single(ofFile, a => a.OperationName == "castiron.final_move");
            var seen = ofFile.First(a => a.DisplayName == "castiron.filejob ObjectSeen");
            Assert.Equal(intake.TraceId, seen.TraceId);
            Assert.Equal(intake.TraceId, attempt.TraceId);
            Assert.Equal(intake.TraceId, move.TraceId);
            Assert.NotEqual(intake.SpanId, seen.ParentSpanId); // Orleans' own grain-call span sits between them.

            using var dashboard = await http.GetAsync("/dashboard/");
            Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
        }
        finally
        {
            await app.StopAsync();
            await collector.StopAsync();
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
                // Best effort.
            }
        }
    }

    [Theory]
    [InlineData("--CastIron:Telemetry:OtlpEndpoint=collector:4317", "CastIron:Telemetry:OtlpEndpoint 'collector:4317' is not an absolute http:// or https:// URI")]
    [InlineData("--CastIron:Telemetry:OtlpProtocol=udp", "CastIron:Telemetry:OtlpProtocol 'udp' is not 'grpc' or 'http/protobuf'")]
    public void BadTelemetrySettings_StopTheSiloNamingTheSetting(string argument, string expected)
    {
        var root = Path.Combine(Path.GetTempPath(), "castiron-silo-tests", Guid.NewGuid().ToString("N"));
        var ex = Assert.ThrowsAny<Exception>(() => SiloHost.Build([.. SiloFixture.Arguments(root), argument], new Dictionary<string, string?>()));
        Assert.Equal(expected, SiloHost.DescribeSettingsError(ex));
    }

    [Fact]
    public async Task WithoutAnEndpoint_NoOpenTelemetryIsRegistered()
    {
        var root = Path.Combine(Path.GetTempPath(), "castiron-silo-tests", Guid.NewGuid().ToString("N"));
        await using var app = SiloHost.Build(SiloFixture.Arguments(root), new Dictionary<string, string?>());

        Assert.Null(app.Services.GetService<OpenTelemetry.Metrics.MeterProvider>());
        Assert.Null(app.Services.GetService<OpenTelemetry.Trace.TracerProvider>());
    }
}

/// <summary>Cast Iron's Kafka instruments on a silo reading librdkafka's mock cluster (or <c>KAFKA_BOOTSTRAP_SERVERS</c>).</summary>
public class KafkaTelemetryTests
{
    /// <summary>
    /// A payload for the seed's example handler is counted handled, one for a handler nobody registered is counted
    /// dead-lettered and as a dead letter of its topic, and the lag of the topic's partitions read here is observed.
    /// </summary>
    [Fact]
    public async Task Payloads_DeadLetters_AndLag_AreMeasuredByTopic()
    {
        using var kafka = new Streaming.Kafka.Tests.KafkaPeer();
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var text = $"castiron_text_payload-{suffix}";
        using (var producer = kafka.CreateProducer())
        {
            await producer.ProduceAsync(text, new Confluent.Kafka.Message<string?, string> { Key = "a", Value = """{"worker_run_method":"etl.example.example_text_stream_processor.process","data":"x","arg1":"test","arg2":"test2"}""" });
            await producer.ProduceAsync(text, new Confluent.Kafka.Message<string?, string> { Key = "a", Value = """{"worker_run_method":"no.such.handler","data":"x"}""" });
        }

        var counted = new ConcurrentQueue<(string Instrument, long Value, Dictionary<string, object?> Tags)>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == CastIronTelemetry.Name && instrument.Name.StartsWith("castiron.kafka.", StringComparison.Ordinal))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var dictionary = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var (key, tagValue) in tags)
            {
                dictionary[key] = tagValue;
            }

            counted.Enqueue((instrument.Name, value, dictionary));
        });
        meters.Start();

        var root = Path.Combine(Path.GetTempPath(), "castiron-silo-tests", Guid.NewGuid().ToString("N"));
        var environment = new Dictionary<string, string?>
        {
            ["KAFKA_BROKER"] = kafka.BootstrapServers,
            ["KAFKA_TOPIC_CASTIRON_TEXT_PAYLOAD"] = text,
            ["KAFKA_TOPIC_CASTIRON_VIDEO_PAYLOAD"] = $"castiron_video_payload-{suffix}",
            ["KAFKA_PIZZA_TRACKER_TOPIC"] = $"pizza-tracker-{suffix}",
        };
        await using var app = SiloHost.Build(SiloFixture.Arguments(root), environment);
        await app.StartAsync();
        try
        {
            bool Has(string instrument, string? outcome) => counted.Any(c => c.Instrument == instrument && c.Value == 1
                && Equals(c.Tags.GetValueOrDefault(CastIronTelemetry.TopicTag), text)
                && (outcome is null || Equals(c.Tags.GetValueOrDefault(CastIronTelemetry.PayloadOutcomeTag), outcome)));
            await SiloFixture.WaitUntilAsync(() => Task.FromResult(Has("castiron.kafka.payloads", "handled")), () => "a handled payload counted");
            await SiloFixture.WaitUntilAsync(() => Task.FromResult(Has("castiron.kafka.payloads", "dead_lettered")), () => "a dead-lettered payload counted");
            await SiloFixture.WaitUntilAsync(() => Task.FromResult(Has("castiron.kafka.dead_letters", null)), () => "a dead letter of the topic counted");
            Assert.Single(counted, c => c.Instrument == "castiron.kafka.dead_letters" && Equals(c.Tags.GetValueOrDefault(CastIronTelemetry.TopicTag), text));

            // Both records are delivered: the partition they went to is read here with nothing left behind.
            await SiloFixture.WaitUntilAsync(() =>
            {
                meters.RecordObservableInstruments();
                return Task.FromResult(counted.Any(c => c.Instrument == "castiron.kafka.lag" && c.Value == 0
                    && Equals(c.Tags.GetValueOrDefault(CastIronTelemetry.TopicTag), text) && c.Tags.GetValueOrDefault(CastIronTelemetry.PartitionTag) is string));
            }, () => $"the lag of {text} observed: {string.Join(", ", counted.Where(c => c.Instrument == "castiron.kafka.lag").Select(c => $"{c.Tags.GetValueOrDefault(CastIronTelemetry.TopicTag)}/{c.Tags.GetValueOrDefault(CastIronTelemetry.PartitionTag)}={c.Value}").Distinct())}");
        }
        finally
        {
            await app.StopAsync();
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
                // Best effort.
            }
        }
    }
}
