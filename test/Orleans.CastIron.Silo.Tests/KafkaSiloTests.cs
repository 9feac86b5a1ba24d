using System.Net.Http.Json;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Orleans.CastIron.Streaming.Kafka.Tests;

namespace Orleans.CastIron.Silo.Tests;

public class KafkaSiloTests
{
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
