using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Orleans.CastIron.Grains;
using Orleans.CastIron.Streaming.Kafka.Tests;
using Orleans.CastIron.Tests;
using Orleans.Hosting;
using Orleans.TestingHost;
using Xunit.Abstractions;

namespace Orleans.CastIron.Kafka.Tests;

public class KillRestartTests(ITestOutputHelper output)
{
    [Fact]
    public async Task KillingTheSiloDuringTenThousandPayloads_LosesNone()
    {
        const int count = 10_000;
        using var kafka = new KafkaPeer();
        var topic = $"castiron_text_payload-{Guid.NewGuid():N}";
        var root = Path.Combine(Path.GetTempPath(), "castiron-kafka-tests", Guid.NewGuid().ToString("N"));
        var run = Guid.NewGuid().ToString("N")[..8];
        var builder = new InProcessTestClusterBuilder(initialSilosCount: 1).WithLogsInBuildOutput();
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddCastIronKafka(configure: o =>
            {
                o.Broker = kafka.BootstrapServers;
                o.TextPayloadTopic = topic;
                o.VideoPayloadTopic = topic + "-video";
                o.PizzaTrackerTopic = topic + "-pizza";
            });
            silo.AddCastIron();
            silo.Services.AddCastIronLocalFolder("etl", CastIronNames.GrainStorage, o => o.RootPath = root);
        });
        await using var cluster = builder.Build();
        using (var warmUp = kafka.CreateProducer())
        {
            await warmUp.ProduceAsync(topic, new Message<string?, string> { Key = "k0", Value = JsonSerializer.Serialize(new { worker_run_method = "test.payload.recorder", data = "warm-up" }) });
        }

        await cluster.DeployAsync();

        // The stream keeps flowing while the silo is killed and replaced.
        var producing = Task.Run(async () =>
        {
            using var producer = kafka.CreateProducer();
            for (var i = 0; i < count; i++)
            {
                producer.Produce(topic, new Message<string?, string>
                {
                    Key = $"k{i % 16}",
                    Value = JsonSerializer.Serialize(new { worker_run_method = "test.payload.recorder", data = $"{run}-{i}" }),
                });
                if (i % 200 == 199)
                {
                    await Task.Delay(20);
                }
            }

            producer.Flush(TimeSpan.FromSeconds(60));
        });

        int Received() => RecorderHandler.Calls.Count(c => c.Data.StartsWith(run, StringComparison.Ordinal));
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (Received() < count / 5 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        var atKill = Received();
        await cluster.KillSiloAsync(cluster.Silos[0]);
        await cluster.StartAdditionalSiloAsync();

        await producing;
        int Distinct() => RecorderHandler.Calls.Where(c => c.Data.StartsWith(run, StringComparison.Ordinal)).Select(c => c.Data).Distinct().Count();
        while (Distinct() < count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        var total = Received();
        output.WriteLine($"killed at {atKill} delivered; after restart {total} deliveries, {Distinct()} distinct, {total - Distinct()} duplicates (at-least-once replays after the kill)");
        Assert.True(atKill > 0 && atKill < count, $"the kill must happen mid-stream (at {atKill})");
        Assert.Equal(count, Distinct());
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
