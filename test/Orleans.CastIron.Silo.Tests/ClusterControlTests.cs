using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using Orleans.CastIron.Redis.Tests;
using Orleans.CastIron.Streaming.Kafka.Tests;
using Xunit.Abstractions;

namespace Orleans.CastIron.Silo.Tests;

/// <summary>
/// Two silo processes in one cluster on a real redis-server, sharing the folder store as they would share a bucket,
/// and Kafka on the mock cluster: the pause route acts on every silo, and on one joining later; file status is the
/// cluster's.
/// </summary>
public sealed class ClusterControlTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "castiron-cluster-tests", Guid.NewGuid().ToString("N"));

    private string? _lastCliError;

    private string Config => Path.Combine(_root, "etl", "crash");

    [Fact]
    public async Task StoppingConsumersOnOneSilo_StopsEverySilo_AndASiloJoiningLaterStaysStopped()
    {
        using var redis = new RedisPeer();
        using var kafka = new KafkaPeer();
        var textTopic = $"castiron_text_payload-{Path.GetFileName(_root)}";
        Directory.CreateDirectory(Config);
        await File.WriteAllTextAsync(Path.Combine(Config, "cfg.toml"), """
            [castiron.etl]
            enabled = true
            handled_file_glob = ".dat"
            inbox_dir = "01_inbox"
            processing_dir = "02_processing"
            archive_dir = "03_archive"
            error_dir = "04_failed"
            save_error_log = true
            shell = 'true'
            """);
        await using var first = Start("a", redis, kafka, textTopic);
        await WaitUntilAsync(() => File.Exists(Path.Combine(Config, "05_canceled", ".keep")), "config registered", first);
        await WaitUntilAsync(() => Status(first).Result is { } s && s.GetProperty("kafka").ValueKind == System.Text.Json.JsonValueKind.Object, "the first silo answering", first);
        using (var stop = await first.Http.GetAsync("/manager/stop-consumers"))
        {
            Assert.True(stop.IsSuccessStatusCode);
        }

        // Joins while the cluster is stopped: it must not take files or read Kafka.
        await using var second = Start("b", redis, kafka, textTopic);
        await WaitUntilAsync(() => Silos(first).Result == 2, "both silos in the cluster", first);
        await WaitUntilAsync(() => Status(second).Result is { } s && s.GetProperty("intake").GetString() == "paused" && s.GetProperty("kafka").GetProperty("paused").GetBoolean(), "the joining silo paused, Kafka included", second);
        await File.WriteAllTextAsync(Path.Combine(Config, "01_inbox", "held.dat"), "x\n");
        // A payload whose outcome is awaited while consumption is paused: it waits in Kafka, the sender is told so.
        var recorded = Path.Combine(_root, "sent");
        var (held, heldOutput) = await CliAsync(redis, ["payload", "send", "--wait", "--method", "test.payload.record", "--data", "x", "--arg", "n=4141", "--arg", $"out={recorded}"], ("CastIron:Client:PayloadOutcomeTimeout", "00:00:02"));
        Assert.Equal(1, held);
        Assert.StartsWith($"sent to {textTopic}/", heldOutput, StringComparison.Ordinal);
        Assert.Contains("not handled: no outcome within 00:00:02: the message is in Kafka at ", _lastCliError, StringComparison.Ordinal);
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(0, Archived());
        Assert.DoesNotContain("4141", Recorded());

        using (var start = await second.Http.GetAsync("/manager/start-consumers"))
        {
            Assert.True(start.IsSuccessStatusCode);
        }

        await WaitUntilAsync(() => Archived() == 1, "the file taken once intake resumed", first);
        // The CLI's view of the cluster, found through Redis as the silos find each other: both silos, intake and Kafka
        // running again.
        await WaitUntilAsync(() => ClusterView(redis).Result is { } view && view.GetProperty("silos").GetArrayLength() == 2 && !view.GetProperty("intake_paused").GetBoolean() && !view.GetProperty("kafka").GetProperty("paused").GetBoolean(), "castiron cluster showing both silos, intake and Kafka running", first);

        // A payload sent with the CLI goes to Kafka and reaches its handler on a silo; the one held while paused too.
        var (sent, sentOutput) = await CliAsync(redis, "payload", "send", "--method", "test.payload.record", "--data", "x", "--arg", "n=4242", "--arg", $"out={recorded}");
        Assert.Equal(0, sent);
        Assert.StartsWith($"sent to {textTopic}/", sentOutput, StringComparison.Ordinal);
        await WaitUntilAsync(() => Recorded().Contains("4242") && Recorded().Contains("4141"), "the sent payloads handled", first);

        // --wait through Kafka: the answer is what the consumer that took the record reports, handled or dead-lettered.
        var (waited, waitedOutput) = await CliAsync(redis, "payload", "send", "--wait", "--method", "test.payload.record", "--data", "x", "--arg", "n=4343", "--arg", $"out={recorded}");
        Assert.True(waited == 0, _lastCliError);
        Assert.Matches($"^sent to {Regex.Escape(textTopic)}/\\d+@\\d+\nhandled \\({Regex.Escape(textTopic)}/\\d+@\\d+ on silo S", waitedOutput);
        Assert.Contains("4343", Recorded());
        var (refused, refusedOutput) = await CliAsync(redis, "payload", "send", "--wait", "--method", "no.such.handler", "--data", "x");
        Assert.Equal(1, refused);
        Assert.StartsWith($"sent to {textTopic}/", refusedOutput, StringComparison.Ordinal);
        Assert.Contains("not handled: no payload handler is registered as 'no.such.handler'", _lastCliError, StringComparison.Ordinal);

        // Whichever silo ran it, both answer for it: file status is the cluster's (in Redis), not a silo's.
        foreach (var silo in new[] { first, second })
        {
            await WaitUntilAsync(() => CompleteFiles(silo).Result == 1, "the file Complete on every silo's /files", silo);
        }

        // The other silo follows the switch within a second.
        await WaitUntilAsync(() => Status(first).Result is { } s && s.GetProperty("intake").GetString() == "running" && !s.GetProperty("kafka").GetProperty("paused").GetBoolean(), "the first silo running again", first, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ASiloStartedBeforeItsRedis_WaitsForIt_WithAWarningPerAttempt_ThenStarts()
    {
        var port = SiloFixture.FreePort();
        var environment = SiloProcess.ClusterVariables($"127.0.0.1:{port}", "test-" + Path.GetFileName(_root));
        await using var silo = SiloProcess.StartWith(Path.Combine(_root, "silo"), ownsFolder: false, environment, null,
            $"--CastIron:LocalFolder:RootPath={_root}", $"--CastIron:Processing:WorkPath={Path.Combine(_root, "work")}");

        await silo.WaitForStdoutAsync(o => o.Split("does not answer (UnableToConnect); the silo starts once it does").Length > 3, "three warnings while Redis is not there");
        // Past the 5 s after which Orleans' membership gives up on Redis and the process used to die.
        await Task.Delay(TimeSpan.FromSeconds(6));
        Assert.False(silo.HasExited, $"the silo exited while waiting for Redis\n{silo.Stdout}\n{silo.Stderr}");

        using var redis = RedisPeer.OnPort(port);
        await silo.WaitForStdoutAsync(o => o.Contains("Now listening on:", StringComparison.Ordinal), "the silo to start once Redis answers", TimeSpan.FromSeconds(90));
        Assert.Contains($"The cluster's Redis at 127.0.0.1:{port} answered (attempt ", silo.Stdout, StringComparison.Ordinal);
        await WaitUntilAsync(() => Silos(silo).Result == 1, "the silo in its cluster", silo);
        Assert.DoesNotContain("Unhandled exception", silo.Stderr, StringComparison.Ordinal);
    }

    private async Task<System.Text.Json.JsonElement?> ClusterView(RedisPeer redis)
    {
        var (code, output) = await CliAsync(redis, "cluster", "--json");
        return code == 0 ? System.Text.Json.JsonDocument.Parse(output).RootElement : null;
    }

    /// <summary>What the test handler recorded (one line per payload it handled).</summary>
    private string[] Recorded() => [.. Directory.EnumerateFiles(_root, "sent.*").SelectMany(File.ReadAllLines)];

    /// <summary>castiron with the cluster's own settings: it finds the silos in Redis, as they find each other.</summary>
    private Task<(int Code, string Output)> CliAsync(RedisPeer redis, params string[] arguments) => CliAsync(redis, arguments, []);

    private async Task<(int Code, string Output)> CliAsync(RedisPeer redis, string[] arguments, params (string Name, string Value)[] settings)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var environment = new Dictionary<string, string?>
        {
            ["CASTIRON_REDIS"] = redis.ConnectionString,
            ["CASTIRON_CLUSTER_ID"] = "test-" + Path.GetFileName(_root),
            ["CASTIRON_SERVICE_ID"] = "test-" + Path.GetFileName(_root),
        };
        foreach (var (name, value) in settings)
        {
            environment[name] = value;
        }

        var code = await Orleans.CastIron.Cli.CliApp.RunAsync(arguments, output, error, environment);
        if (code != 0)
        {
            _lastCliError = error.ToString();
        }

        return (code, output.ToString());
    }

    private static async Task<int> CompleteFiles(SiloProcess silo)
    {
        try
        {
            return (await silo.Http.GetFromJsonAsync<System.Text.Json.JsonElement>("/files?status=Complete")).GetArrayLength();
        }
        catch (HttpRequestException)
        {
            return -1;
        }
    }

    private static async Task<System.Text.Json.JsonElement?> Status(SiloProcess silo)
    {
        try
        {
            return (await silo.Http.GetFromJsonAsync<System.Text.Json.JsonElement>("/manager/status")).GetProperty("message");
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>A silo of the cluster: the shared bucket folder, its own job folders, short recovery so the test is quick.</summary>
    private SiloProcess Start(string name, RedisPeer redis, KafkaPeer kafka, string textTopic)
    {
        var suffix = Path.GetFileName(_root);
        var environment = SiloProcess.ClusterVariables(redis.ConnectionString, "test-" + Path.GetFileName(_root));
        environment["KAFKA_BROKER"] = kafka.BootstrapServers;
        environment["KAFKA_TOPIC_CASTIRON_TEXT_PAYLOAD"] = textTopic;
        environment["KAFKA_TOPIC_CASTIRON_VIDEO_PAYLOAD"] = $"castiron_video_payload-{suffix}";
        environment["KAFKA_PIZZA_TRACKER_TOPIC"] = $"pizza-tracker-{suffix}";
        return SiloProcess.StartWith(Path.Combine(_root, "silo-" + name), ownsFolder: false, environment, null,
            $"--CastIron:LocalFolder:RootPath={_root}",
            "--CastIron:LocalFolder:ScanInterval=00:00:00.250",
            "--CastIron:LocalFolder:SettleTime=00:00:00.100",
            "--CastIron:RecoveryInterval=00:00:05",
            $"--CastIron:Processing:PluginsPath={Path.Combine(AppContext.BaseDirectory, "test-plugins")}",
            $"--CastIron:Processing:WorkPath={Path.Combine(_root, "work-" + name)}");
    }

    private static async Task<int> Silos(SiloProcess silo)
    {
        try
        {
            var status = await silo.Http.GetFromJsonAsync<System.Text.Json.JsonElement>("/manager/status");
            return status.GetProperty("message").GetProperty("silos").GetArrayLength();
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }

    private async Task WaitUntilAsync(Func<bool> condition, string what, SiloProcess silo, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(120));
        while (!condition())
        {
            Assert.False(silo.HasExited, $"the silo exited while waiting for {what}\nstderr:\n{silo.Stderr}");
            if (DateTime.UtcNow > deadline)
            {
                output.WriteLine(silo.Stdout.Length > 6000 ? silo.Stdout[^6000..] : silo.Stdout);
                Assert.Fail($"timed out waiting for {what} (last CLI error: {_lastCliError}): {Archived()} archived, {Count("01_inbox")} in the inbox, {Count("02_processing")} processing, {Count("04_failed")} failed");
            }

            await Task.Delay(100);
        }
    }

    private int Count(string stage) =>
        Directory.Exists(Path.Combine(Config, stage)) ? Directory.EnumerateFiles(Path.Combine(Config, stage), "*.dat").Count() : 0;

    private int Archived() =>
        Directory.Exists(Path.Combine(Config, "03_archive")) ? Directory.EnumerateFiles(Path.Combine(Config, "03_archive"), "*.dat").Count() : 0;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }
}
