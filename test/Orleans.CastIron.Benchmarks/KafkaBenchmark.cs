using Orleans.CastIron.Tests;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Confluent.Kafka;
using Orleans.CastIron.Events;
using Orleans.CastIron.Grains;
using Orleans.CastIron.Processing;
using Orleans.CastIron.Streaming.Kafka.Tests;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace Orleans.CastIron.Benchmarks;

/// <summary>A handler that only counts (and notes latency when asked).</summary>
[TextPayloadProcessor("bench.noop")]
public sealed class NoopPayloadHandler : ITextPayloadProcessor
{
    public static int Count;
    public static ConcurrentBag<double>? Latencies;

    public Task ProcessAsync(TextPayload payload, CancellationToken cancellationToken) => Handle(payload.Argument("sent_at"));

    public static Task Handle(string? sentAt)
    {
        Interlocked.Increment(ref Count);
        if (Latencies is { } latencies && sentAt is not null)
        {
            latencies.Add((Stopwatch.GetTimestamp() - long.Parse(sentAt, System.Globalization.CultureInfo.InvariantCulture)) * 1000.0 / Stopwatch.Frequency);
        }

        return Task.CompletedTask;
    }
}

/// <summary>
/// Text-payload throughput from topic to a no-op handler through the stream provider and the StreamingText grains,
/// against a raw Confluent consumer loop calling the same handler on the same cluster in the same run, plus
/// end-to-end latency percentiles of a paced stream.
/// </summary>
internal static class KafkaBenchmark
{
    public static async Task RunAsync(int count)
    {
        using var kafka = new KafkaPeer();
        var topic = $"bench-text-{Guid.NewGuid():N}";
        Console.WriteLine($"Kafka text-payload benchmark: {count} messages, {Environment.ProcessorCount} cores, peer {kafka.BootstrapServers}");
        await ProduceAsync(kafka, topic, count, paced: false);

        // Raw: one consumer over all partitions, parse, call the handler.
        NoopPayloadHandler.Count = 0;
        var raw = Stopwatch.StartNew();
        using (var consumer = kafka.CreateConsumer("raw-" + topic))
        {
            consumer.Assign(Enumerable.Range(0, 4).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
            while (NoopPayloadHandler.Count < count)
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { Message: not null } result
                    && TextPayloadMessage.TryParse(System.Text.Encoding.UTF8.GetBytes(result.Message.Value), out var message, out _))
                {
                    await NoopPayloadHandler.Handle(message!.Arguments.TryGetValue("sent_at", out var s) ? s.GetString() : null);
                }
            }
        }

        raw.Stop();

        // Through Orleans: same topic, a fresh consumer group.
        var root = WorkflowHostRoot();
        var builder = new InProcessTestClusterBuilder(initialSilosCount: 1).WithLogsInBuildOutput();
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddCastIronKafka(configure: o =>
            {
                o.Broker = kafka.BootstrapServers;
                o.TextPayloadTopic = topic;
                o.TextPayloadGroup = "silo-" + topic;
                o.VideoPayloadTopic = topic + "-video";
                o.PizzaTrackerTopic = topic + "-pizza";
            });
            silo.AddCastIron();
            silo.Services.AddCastIronLocalFolder("etl", CastIronNames.GrainStorage, o => o.RootPath = root);
        });
        await using var cluster = builder.Build();
        NoopPayloadHandler.Count = 0;
        var provider = Stopwatch.StartNew();
        await cluster.DeployAsync();
        while (NoopPayloadHandler.Count < count)
        {
            await Task.Delay(5);
        }

        provider.Stop();

        // Latency: a paced stream while the silo is running.
        NoopPayloadHandler.Latencies = [];
        NoopPayloadHandler.Count = 0;
        var paced = Math.Min(count, 3000);
        await ProduceAsync(kafka, topic, paced, paced: true);
        while (NoopPayloadHandler.Count < paced)
        {
            await Task.Delay(5);
        }

        var latencies = NoopPayloadHandler.Latencies.Order().ToArray();
        double Percentile(double p) => latencies[Math.Min(latencies.Length - 1, (int)(p * latencies.Length))];

        Console.WriteLine();
        Console.WriteLine($"{"run",-44} {"seconds",8} {"msg/s",9} {"vs raw",7}");
        Console.WriteLine($"{"raw Confluent consumer loop",-44} {raw.Elapsed.TotalSeconds,8:F2} {count / raw.Elapsed.TotalSeconds,9:F0} {1.0,7:F2}");
        Console.WriteLine($"{"stream provider + StreamingText grains",-44} {provider.Elapsed.TotalSeconds,8:F2} {count / provider.Elapsed.TotalSeconds,9:F0} {provider.Elapsed.TotalSeconds / raw.Elapsed.TotalSeconds,7:F2}");
        Console.WriteLine($"(provider time includes silo start-up)");
        Console.WriteLine($"end-to-end latency, {paced} paced messages (~1000/s): p50 {Percentile(0.50):F1} ms, p95 {Percentile(0.95):F1} ms, p99 {Percentile(0.99):F1} ms, max {latencies[^1]:F1} ms");
        WorkflowHost(root);
    }

    private static string WorkflowHostRoot() => Orleans.CastIron.Grains.Tests.WorkflowHost.NewRoot();

    private static void WorkflowHost(string root) => Orleans.CastIron.Grains.Tests.WorkflowHost.DeleteRoot(root);

    private static async Task ProduceAsync(KafkaPeer kafka, string topic, int count, bool paced)
    {
        using var producer = kafka.CreateProducer();
        for (var i = 0; i < count; i++)
        {
            producer.Produce(topic, new Message<string?, string>
            {
                Key = $"k{i % 64}",
                Value = JsonSerializer.Serialize(new { worker_run_method = "bench.noop", data = $"payload {i}", sent_at = Stopwatch.GetTimestamp().ToString(System.Globalization.CultureInfo.InvariantCulture) }),
            });
            if (paced && i % 10 == 9)
            {
                await Task.Delay(10);
            }
        }

        producer.Flush(TimeSpan.FromSeconds(60));
    }
}
