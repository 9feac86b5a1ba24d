using Microsoft.Extensions.DependencyInjection;
using Orleans.CastIron.Tests;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Confluent.Kafka;
using Orleans.CastIron.Events;
using Orleans.CastIron.Grains;
using Orleans.CastIron.Processing;
using Orleans.CastIron.Streaming.Kafka;
using Orleans.CastIron.Streaming.Kafka.Tests;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace Orleans.CastIron.Benchmarks;

/// <summary>A handler that only counts (and notes latency when asked).</summary>
[TextPayloadProcessor("bench.noop")]
public sealed class NoopPayloadHandler : ITextPayloadProcessor
{
    public static int Count;
    public static long FirstAt;
    public static ConcurrentBag<double>? Latencies;

    public Task ProcessAsync(TextPayload payload, CancellationToken cancellationToken) => Handle(payload.Argument("sent_at"));

    public static Task Handle(string? sentAt)
    {
        if (Interlocked.Increment(ref Count) == 1)
        {
            FirstAt = Stopwatch.GetTimestamp();
        }

        if (Latencies is { } latencies && sentAt is not null)
        {
            latencies.Add((Stopwatch.GetTimestamp() - long.Parse(sentAt, System.Globalization.CultureInfo.InvariantCulture)) * 1000.0 / Stopwatch.Frequency);
        }

        return Task.CompletedTask;
    }
}

/// <summary>
/// Payload throughput from topic to a no-op handler through the stream provider and the payload grains, against a raw
/// Confluent consumer loop calling the same handler on the same cluster in the same run, for keyed records (text
/// topic) and records without a key (video topic): silo start-up apart, provider rate at steady state (from the first
/// delivered record), and end-to-end latency percentiles of a stream paced at about 1,000 msg/s for both.
/// </summary>
internal static class KafkaBenchmark
{
    private const string Provider = "kafka";

    /// <summary>
    /// The fetch wait of both loops. librdkafka's mock cluster answers a fetch only when this wait is over, even when
    /// records arrived meanwhile (a real broker answers as soon as they arrive), so the wait alone would set the
    /// latency floor of both loops: 10 ms here (BENCH_FETCH_WAIT_MS to change it) leaves what the provider adds.
    /// </summary>
    private static readonly int FetchWaitMs = int.Parse(Environment.GetEnvironmentVariable("BENCH_FETCH_WAIT_MS") ?? "10", System.Globalization.CultureInfo.InvariantCulture);

    public static async Task RunAsync(int count)
    {
        using var kafka = new KafkaPeer();
        var run = Guid.NewGuid().ToString("N");
        var keyedTopic = $"bench-keyed-{run}";
        var unkeyedTopic = $"bench-unkeyed-{run}";
        Console.WriteLine($"Kafka payload benchmark: {count} messages per run, {Environment.ProcessorCount} cores, peer {kafka.BootstrapServers}, fetch wait {FetchWaitMs} ms");
        await ProduceAsync(kafka, keyedTopic, count, keyed: true, paced: false);
        var rawKeyed = RawLoop(kafka, keyedTopic, count, "raw-keyed-" + run);

        // Through Orleans: the keyed topic as text payloads, the unkeyed one as video payloads; fresh consumer groups.
        var root = Orleans.CastIron.Grains.Tests.WorkflowHost.NewRoot();
        var builder = new InProcessTestClusterBuilder(initialSilosCount: 1).WithLogsInBuildOutput();
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddCastIronKafka(configure: o =>
            {
                o.Broker = kafka.BootstrapServers;
                o.TextPayloadTopic = keyedTopic;
                o.TextPayloadGroup = "silo-" + keyedTopic;
                o.VideoPayloadTopic = unkeyedTopic;
                o.VideoPayloadGroup = "silo-" + unkeyedTopic;
                o.PizzaTrackerTopic = "bench-pizza-" + run;
                o.ClientSettings["fetch.wait.max.ms"] = FetchWaitMs.ToString(System.Globalization.CultureInfo.InvariantCulture);
            });
            if (Environment.GetEnvironmentVariable("BENCH_PULL_MS") is { } pull)
            {
                silo.Services.Configure<Orleans.Configuration.StreamPullingAgentOptions>(Provider, o => o.GetQueueMsgsTimerPeriod = TimeSpan.FromMilliseconds(int.Parse(pull, System.Globalization.CultureInfo.InvariantCulture)));
            }
            silo.AddCastIron();
            silo.Services.AddCastIronLocalFolder("etl", CastIronNames.GrainStorage, o => o.RootPath = root);
        });
        await using var cluster = builder.Build();
        NoopPayloadHandler.Count = 0;
        NoopPayloadHandler.FirstAt = 0;
        var startUp = Stopwatch.StartNew();
        await cluster.DeployAsync();
        var management = cluster.Client.GetGrain<IManagementGrain>(0);
        // Keyed: a backlog waiting at start; from the first delivered record to the last is the steady state.
        while (NoopPayloadHandler.Count < count)
        {
            await Task.Delay(1);
        }

        var providerKeyed = Seconds(NoopPayloadHandler.FirstAt, Stopwatch.GetTimestamp());
        var siloStartUp = Seconds(startUp.ElapsedTicksAtStart(), NoopPayloadHandler.FirstAt);

        // Unkeyed: a backlog produced while the agents are stopped, read once they start.
        await management.StopAgentsAsync(Provider);
        await ProduceAsync(kafka, unkeyedTopic, count, keyed: false, paced: false);
        var rawUnkeyed = RawLoop(kafka, unkeyedTopic, count, "raw-unkeyed-" + run);
        NoopPayloadHandler.Count = 0;
        NoopPayloadHandler.FirstAt = 0;
        await management.StartAgentsAsync(Provider);
        while (NoopPayloadHandler.Count < count)
        {
            await Task.Delay(1);
        }

        var providerUnkeyed = Seconds(NoopPayloadHandler.FirstAt, Stopwatch.GetTimestamp());

        // Latency at ~1,000 msg/s, the silo running: raw loop and provider, keyed and unkeyed.
        var latency = new List<(string Name, double[] Ms)>();
        foreach (var keyed in new[] { true, false })
        {
            var topic = keyed ? keyedTopic : unkeyedTopic;
            await management.StopAgentsAsync(Provider);
            latency.Add(($"raw loop, {(keyed ? "keyed" : "unkeyed")}", await RawLatencyAsync(kafka, topic, keyed, "raw-latency-" + Guid.NewGuid().ToString("N"))));
            await management.StartAgentsAsync(Provider);
            await Task.Delay(500);
            latency.Add(($"provider, {(keyed ? "keyed" : "unkeyed")}", await ProviderLatencyAsync(kafka, topic, keyed)));
        }

        Console.WriteLine();
        Console.WriteLine($"silo start-up to first delivered record: {siloStartUp:F2} s");
        Console.WriteLine($"{"run (steady state)",-44} {"records",8} {"seconds",8} {"msg/s",9} {"of raw",7}");
        Row("raw Confluent loop, keyed", count, rawKeyed, rawKeyed);
        Row("provider + payload grains, keyed", count - 1, providerKeyed, rawKeyed * (count - 1) / count);
        Row("raw Confluent loop, unkeyed", count, rawUnkeyed, rawUnkeyed);
        Row("provider + payload grains, unkeyed", count - 1, providerUnkeyed, rawUnkeyed * (count - 1) / count);
        Console.WriteLine($"{"end-to-end latency at ~1,000 msg/s",-44} {"p50",8} {"p95",8} {"p99",8} {"max",8}");
        foreach (var (name, ms) in latency)
        {
            Console.WriteLine($"{name,-44} {Percentile(ms, 0.50),8:F1} {Percentile(ms, 0.95),8:F1} {Percentile(ms, 0.99),8:F1} {ms[^1],8:F1}");
        }

        Orleans.CastIron.Grains.Tests.WorkflowHost.DeleteRoot(root);
    }

    private static void Row(string name, int records, double seconds, double rawSeconds) =>
        Console.WriteLine($"{name,-44} {records,8} {seconds,8:F2} {records / seconds,9:F0} {rawSeconds / seconds,7:F2}");

    private static double Seconds(long from, long to) => (to - from) / (double)Stopwatch.Frequency;

    private static long ElapsedTicksAtStart(this Stopwatch watch) => Stopwatch.GetTimestamp() - watch.ElapsedTicks;

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

    private static IConsumer<string?, string> RawConsumer(KafkaPeer kafka, string group) =>
        new ConsumerBuilder<string?, string>(new ConsumerConfig
        {
            BootstrapServers = kafka.BootstrapServers,
            GroupId = group,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            FetchWaitMaxMs = FetchWaitMs,
        }).Build();

    /// <summary>One consumer over all partitions: parse, call the handler; seconds for <paramref name="count"/> records.</summary>
    private static double RawLoop(KafkaPeer kafka, string topic, int count, string group)
    {
        NoopPayloadHandler.Count = 0;
        using var consumer = RawConsumer(kafka, group);
        consumer.Assign(Enumerable.Range(0, 4).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var watch = Stopwatch.StartNew();
        while (NoopPayloadHandler.Count < count)
        {
            Handle(consumer.Consume(TimeSpan.FromMilliseconds(100)));
        }

        return watch.Elapsed.TotalSeconds;
    }

    private static void Handle(ConsumeResult<string?, string>? result)
    {
        if (result is { Message: not null }
            && TextPayloadMessage.TryParse(System.Text.Encoding.UTF8.GetBytes(result.Message.Value), out var message, out _))
        {
            NoopPayloadHandler.Handle(message!.Arguments.TryGetValue("sent_at", out var s) ? s.GetString() : null);
        }
    }

    private static async Task<double[]> RawLatencyAsync(KafkaPeer kafka, string topic, bool keyed, string group)
    {
        const int Paced = 3000;
        using var consumer = RawConsumer(kafka, group);
        consumer.Assign(Enumerable.Range(0, 4).Select(p => new TopicPartitionOffset(topic, p, Offset.End)));
        await Task.Delay(500);
        NoopPayloadHandler.Latencies = [];
        NoopPayloadHandler.Count = 0;
        var producing = ProduceAsync(kafka, topic, Paced, keyed, paced: true);
        while (NoopPayloadHandler.Count < Paced)
        {
            Handle(consumer.Consume(TimeSpan.FromMilliseconds(100)));
        }

        await producing;
        var latencies = NoopPayloadHandler.Latencies.Order().ToArray();
        NoopPayloadHandler.Latencies = null;
        return latencies;
    }

    private static async Task<double[]> ProviderLatencyAsync(KafkaPeer kafka, string topic, bool keyed)
    {
        const int Paced = 3000;
        NoopPayloadHandler.Latencies = [];
        NoopPayloadHandler.Count = 0;
        await ProduceAsync(kafka, topic, Paced, keyed, paced: true);
        while (NoopPayloadHandler.Count < Paced)
        {
            await Task.Delay(5);
        }

        var latencies = NoopPayloadHandler.Latencies.Order().ToArray();
        NoopPayloadHandler.Latencies = null;
        return latencies;
    }

    private static async Task ProduceAsync(KafkaPeer kafka, string topic, int count, bool keyed, bool paced)
    {
        using var producer = kafka.CreateProducer();
        for (var i = 0; i < count; i++)
        {
            producer.Produce(topic, new Message<string?, string>
            {
                Key = keyed ? $"k{i % 64}" : null,
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
