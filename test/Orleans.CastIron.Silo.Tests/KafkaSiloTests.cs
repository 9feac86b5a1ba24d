using System.Net.Http.Json;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Orleans.CastIron.Streaming.Kafka.Tests;

namespace Orleans.CastIron.Silo.Tests;

public class KafkaSiloTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>
    /// The silo process takes 800 MiB of video payloads with its peak resident memory far below that: reads are
    /// bounded by bytes (the per-queue buffer and librdkafka's prefetch) and a payload is not copied on its way. Against
    /// a real broker (<c>KAFKA_BOOTSTRAP_SERVERS</c>) 200 × 4 MiB wait in Kafka before the silo starts; librdkafka's
    /// mock cluster keeps only about 5 MB per partition, so there they are produced while the silo reads.
    /// Also: the seed's consumer variables that mean nothing here are named in a warning.
    /// </summary>
    [Fact]
    public async Task LargePayloads_AreReadWithBoundedMemory()
    {
        // 200 × 4 MiB against a real broker; the mock cluster drops records of several MiB (it keeps about 5 MB per
        // partition), so there the same 800 MiB come as 800 × 1 MiB.
        var backlogFirst = !string.IsNullOrWhiteSpace(System.Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS"));
        var records = backlogFirst ? 200 : 800;
        var size = (backlogFirst ? 4 : 1) * 1024 * 1024;
        const long LimitBytes = 600L * 1024 * 1024;
        using var kafka = new KafkaPeer();
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var video = $"castiron_video_payload-{suffix}";
        var data = new string('v', size);
        using var producer = new ProducerBuilder<string?, string>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers, MessageMaxBytes = size + 1024 * 1024 }).Build();
        // No handler has this name: each payload is read, refused and dead-lettered whole, the heaviest path.
        async Task ProduceAsync(int i, int pauseMs)
        {
            await producer.ProduceAsync(video, new Message<string?, string> { Value = $"{{\"worker_run_method\":\"bench.no.such.handler\",\"data\":\"{data}\",\"n\":{i}}}" });
            await Task.Delay(pauseMs);
        }

        await ProduceAsync(-1, 0);
        if (backlogFirst)
        {
            for (var i = 0; i < records - 1; i++)
            {
                await ProduceAsync(i, 0);
            }
        }

        var environment = new Dictionary<string, string>
        {
            ["KAFKA_BROKER"] = kafka.BootstrapServers,
            ["KAFKA_TOPIC_CASTIRON_TEXT_PAYLOAD"] = $"castiron_text_payload-{suffix}",
            ["KAFKA_TOPIC_CASTIRON_VIDEO_PAYLOAD"] = video,
            ["KAFKA_PIZZA_TRACKER_TOPIC"] = $"pizza-tracker-{suffix}",
            ["KAFKA_MAX_POLL_INTERVAL_MS"] = "600000",
        };
        var folder = Path.Combine(Path.GetTempPath(), "castiron-silo-process", Guid.NewGuid().ToString("N"));
        await using var silo = SiloProcess.StartWith(folder, ownsFolder: true, environment, null);
        await silo.WaitForStdoutAsync(o => o.Contains("Now listening on:", StringComparison.Ordinal), "the silo to listen");
        Assert.Contains("KAFKA_MAX_POLL_INTERVAL_MS=600000 is ignored: partitions are assigned", silo.Stdout, StringComparison.Ordinal);
        var deadline = DateTime.UtcNow.AddMinutes(3);
        long committed = 0;
        var status = default(JsonElement);
        async Task<long> CommittedAsync()
        {
            status = await silo.Http.GetFromJsonAsync<JsonElement>("/manager/status");
            return committed = status.GetProperty("message").GetProperty("kafka").GetProperty("partitions").EnumerateArray()
                .Where(p => p.GetProperty("topic").GetString() == video).Sum(p => Math.Max(0, p.GetProperty("committed").GetInt64()));
        }

        if (!backlogFirst)
        {
            for (var i = 0; i < records - 1; i++)
            {
                // Never more than a few MiB ahead of the silo: the mock cluster deletes what is past its ~5 MB per
                // partition, which a silo slowed down by other tests would otherwise never see.
                while (i % 4 == 0 && i - await CommittedAsync() > 8 && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(50);
                }

                await ProduceAsync(i, 5);
            }
        }

        while (committed < records)
        {
            if (DateTime.UtcNow >= deadline)
            {
                Assert.Fail($"{committed} of {records} payloads handled in time: {status.GetProperty("message").GetProperty("kafka")}; the silo said: {string.Join("\n", silo.Stdout.Split("\n").Where(l => !l.StartsWith("info", StringComparison.Ordinal)).TakeLast(30))}");
            }

            await Task.Delay(250);
            await CommittedAsync();
        }

        var peak = PeakResidentBytes(silo.Id);
        TestFigures.Report(output, "kafka memory", $"peak resident memory {peak / (1024 * 1024)} MiB for {records} payloads of {size / (1024 * 1024)} MiB ({(backlogFirst ? "waiting in Kafka" : "produced while read")})");
        Assert.True(peak < LimitBytes, $"peak resident memory {peak / (1024 * 1024)} MiB");
    }

    /// <summary>VmHWM of a process: the most resident memory it ever had.</summary>
    private static long PeakResidentBytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    [Fact]
    public async Task WithKafkaBroker_ManagerRoutesPauseKafka_AndStatusShowsPartitionPositions()
    {
        using var kafka = new KafkaPeer();
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var text = $"castiron_text_payload-{suffix}";
        using (var producer = kafka.CreateProducer())
        {
            await producer.ProduceAsync(text, new Message<string?, string> { Key = "k", Value = "{\"worker_run_method\":\"etl.example.example_text_stream_processor.process\",\"data\":\"x\",\"arg1\":\"test\",\"arg2\":\"test2\"}" });
        }

        var root = Path.Combine(Path.GetTempPath(), "castiron-silo-tests", Guid.NewGuid().ToString("N"));
        // As in production: the seed's variables, mapped by the host.
        var environment = new Dictionary<string, string?>
        {
            ["KAFKA_BROKER"] = kafka.BootstrapServers,
            ["KAFKA_TOPIC_CASTIRON_TEXT_PAYLOAD"] = text,
            ["KAFKA_TOPIC_CASTIRON_VIDEO_PAYLOAD"] = $"castiron_video_payload-{suffix}",
            ["KAFKA_PIZZA_TRACKER_TOPIC"] = $"pizza-tracker-{suffix}",
        };
        await using var app = SiloHost.Build(SiloFixture.Arguments(root), environment);
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()) };

        JsonElement kafkaStatus = default;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            kafkaStatus = (await http.GetFromJsonAsync<JsonElement>("/manager/status")).GetProperty("message").GetProperty("kafka");
            if (kafkaStatus.GetProperty("partitions").EnumerateArray().Any(p => p.GetProperty("topic").GetString() == text && p.GetProperty("committed").GetInt64() == 1))
            {
                break;
            }

            await Task.Delay(100);
        }

        var partition = kafkaStatus.GetProperty("partitions").EnumerateArray().Single(p => p.GetProperty("topic").GetString() == text && p.GetProperty("committed").GetInt64() == 1);
        Assert.Equal(1, partition.GetProperty("high_watermark").GetInt64());
        Assert.Equal(0, partition.GetProperty("lag").GetInt64());
        Assert.False(kafkaStatus.GetProperty("paused").GetBoolean());

        using var stop = await http.GetAsync("/manager/stop-consumers");
        Assert.True(stop.IsSuccessStatusCode);
        Assert.True((await KafkaStatusAsync(http)).GetProperty("paused").GetBoolean());

        // The same key: the same partition as the first record.
        var keyed = (text, partition.GetProperty("partition").GetInt32());

        // A record produced while paused: the silo learns it exists (the high watermark moves on) but does not read it.
        using (var producer = kafka.CreateProducer())
        {
            await producer.ProduceAsync(text, new Message<string?, string> { Key = "k", Value = "{\"worker_run_method\":\"etl.example.example_text_stream_processor.process\",\"data\":\"paused\"}" });
        }

        await WaitForPartitionAsync(http, keyed, p => p.GetProperty("high_watermark").GetInt64() == 2, "the high watermark to show the new record");
        // The pulling agent asks for records every 100 ms: over a second, a running consumer would have read it.
        var until = DateTime.UtcNow.AddSeconds(1);
        while (DateTime.UtcNow < until)
        {
            var whilePaused = await PartitionAsync(http, keyed);
            // No silo reads it: its positions come from Kafka.
            Assert.Equal(JsonValueKind.Null, whilePaused.GetProperty("silo").ValueKind);
            Assert.Equal(1, whilePaused.GetProperty("committed").GetInt64());
            Assert.Equal(1, whilePaused.GetProperty("lag").GetInt64());
            await Task.Delay(100);
        }

        // castiron cluster shows the same through the gateway: Kafka paused, the partition one record behind.
        using (var cliOut = new StringWriter())
        using (var cliErr = new StringWriter())
        {
            Assert.Equal(0, await Orleans.CastIron.Cli.CliApp.RunAsync(["cluster", "--json", "--gateway", $"127.0.0.1:{app.Configuration["CastIron:Cluster:GatewayPort"]}"], cliOut, cliErr, new Dictionary<string, string?>()));
            var view = JsonDocument.Parse(cliOut.ToString()).RootElement.GetProperty("kafka");
            Assert.True(view.GetProperty("paused").GetBoolean());
            Assert.Equal(1, view.GetProperty("partitions").EnumerateArray().Single(p => p.GetProperty("topic").GetString() == keyed.text && p.GetProperty("partition").GetInt32() == keyed.Item2).GetProperty("lag").GetInt64());
        }

        using var start = await http.GetAsync("/manager/start-consumers");
        Assert.True(start.IsSuccessStatusCode);
        Assert.False((await KafkaStatusAsync(http)).GetProperty("paused").GetBoolean());
        var resumed = await WaitForPartitionAsync(http, keyed, p => p.GetProperty("committed").GetInt64() == 2, "the record read once resumed");
        Assert.Equal(1, resumed.GetProperty("last_read").GetInt64());
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

    private static async Task<JsonElement> KafkaStatusAsync(HttpClient http) =>
        (await http.GetFromJsonAsync<JsonElement>("/manager/status")).GetProperty("message").GetProperty("kafka");

    private static async Task<JsonElement> PartitionAsync(HttpClient http, (string Topic, int Number) partition) =>
        (await KafkaStatusAsync(http)).GetProperty("partitions").EnumerateArray()
            .Single(p => p.GetProperty("topic").GetString() == partition.Topic && p.GetProperty("partition").GetInt32() == partition.Number);

    private static async Task<JsonElement> WaitForPartitionAsync(HttpClient http, (string Topic, int Number) which, Func<JsonElement, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var partition = await PartitionAsync(http, which);
            if (condition(partition))
            {
                return partition;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out waiting for {what}: {partition}");
            }

            await Task.Delay(100);
        }
    }
}
