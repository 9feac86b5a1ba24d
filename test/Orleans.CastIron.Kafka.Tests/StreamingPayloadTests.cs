using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Orleans.CastIron.Grains;
using Orleans.CastIron.Jobs;
using Orleans.CastIron.Storage;
using Orleans.CastIron.Streaming.Kafka.Tests;
using Orleans.CastIron.Tests;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace Orleans.CastIron.Kafka.Tests;

/// <summary>A silo with Cast Iron's Kafka side on the Kafka peer, with topic names of its own.</summary>
public class KafkaSiloFixture : IAsyncLifetime
{
    public KafkaPeer Kafka { get; } = new();

    public string Suffix { get; } = Guid.NewGuid().ToString("N")[..8];

    public string TextTopic => $"castiron_text_payload-{Suffix}";

    public string VideoTopic => $"castiron_video_payload-{Suffix}";

    public string PizzaTracker => $"pizza-tracker-{Suffix}";

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "castiron-kafka-tests", Guid.NewGuid().ToString("N"));

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IServiceProvider Services => Cluster.GetSiloServiceProvider(Cluster.Silos[0].SiloAddress);

    public async Task InitializeAsync()
    {
        // Topics exist before the silo reads their metadata (brokers create them on first use).
        using (var producer = Kafka.CreateProducer())
        {
            foreach (var topic in new[] { TextTopic, VideoTopic })
            {
                await producer.ProduceAsync(topic, new Message<string?, string> { Value = "{\"worker_run_method\":\"test.payload.recorder\",\"data\":\"warm-up\"}" });
            }
        }

        var builder = new InProcessTestClusterBuilder(initialSilosCount: 1).WithLogsInBuildOutput();
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddCastIronKafka(configure: o =>
            {
                o.Broker = Kafka.BootstrapServers;
                o.TextPayloadTopic = TextTopic;
                o.VideoPayloadTopic = VideoTopic;
                o.PizzaTrackerTopic = PizzaTracker;
                ConfigureKafka(o);
            });
            silo.AddCastIron();
            silo.Services.AddCastIronLocalFolder("etl", CastIronNames.GrainStorage, o => o.RootPath = Root);
            ConfigureSilo(silo);
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    /// <summary>Further Kafka settings of a derived fixture.</summary>
    protected virtual void ConfigureKafka(CastIronKafkaOptions options)
    {
    }

    /// <summary>Further silo settings of a derived fixture.</summary>
    protected virtual void ConfigureSilo(ISiloBuilder silo)
    {
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        Kafka.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }
}

public class StreamingPayloadTests(KafkaSiloFixture silo) : IClassFixture<KafkaSiloFixture>
{
    private static async Task WaitUntilAsync(Func<bool> condition, Func<string> describe)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out waiting for {describe()}");
            }

            await Task.Delay(50);
        }
    }

    private async Task SendAsync(string topic, string value, string? key = null)
    {
        using var producer = silo.Kafka.CreateProducer();
        await producer.ProduceAsync(topic, new Message<string?, string> { Key = key, Value = value });
    }

    [Fact]
    public async Task TheSeedsStreamingExample_ReachesTheHandler_WithDataAndArguments()
    {
        var data = $"{{\"field1\": 1, \"field2\": \"{Guid.NewGuid()}\"}}";
        // The message the seed's streaming_text_producer.py sends, aimed at a recording handler.
        await SendAsync(silo.TextTopic, JsonSerializer.Serialize(new { worker_run_method = "test.payload.recorder", data, arg1 = "test", arg2 = "test2" }));
        // And the seed's own example handler, which logs the same.
        await SendAsync(silo.TextTopic, JsonSerializer.Serialize(new { worker_run_method = "etl.example.example_text_stream_processor.process", data, arg1 = "test", arg2 = "test2" }));

        await WaitUntilAsync(() => RecorderHandler.Calls.Any(c => c.Data == data), () => "the payload at the handler");

        var call = RecorderHandler.Calls.Single(c => c.Data == data);
        Assert.Equal(("test", "test2"), (call.Arg1, call.Arg2));
        Assert.StartsWith($"{silo.TextTopic}/", call.Origin, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownHandler_MalformedMessage_AndFailingHandler_AreDeadLettered_AndConsumptionGoesOn()
    {
        var marker = Guid.NewGuid().ToString();
        await SendAsync(silo.TextTopic, "{\"worker_run_method\":\"os.system\",\"data\":\"rm -rf /\"}", "k1");
        await SendAsync(silo.TextTopic, "this is not json", "k1");
        await SendAsync(silo.TextTopic, "{\"worker_run_method\":\"test.payload.fail\",\"data\":\"x\"}", "k1");
        await SendAsync(silo.TextTopic, $"{{\"worker_run_method\":\"test.payload.recorder\",\"data\":\"{marker}\"}}", "k1");

        await WaitUntilAsync(() => RecorderHandler.Calls.Any(c => c.Data == marker), () => "the good message after three bad ones");
        var dead = silo.Kafka.ReadAll($"{silo.TextTopic}-dlq", 3, TimeSpan.FromSeconds(30));

        var reasons = dead.Select(d => Encoding.UTF8.GetString(d.Message.Headers.GetLastBytes("castiron-error"))).ToList();
        // Not a .NET handler, and not allowed to run on Python (CastIron:Python:AllowedHandlers is empty): nothing imported.
        Assert.Contains(reasons, r => r.Contains("no payload handler is registered as 'os.system'", StringComparison.Ordinal) && r.Contains("CastIron:Python:AllowedHandlers does not allow it", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.Contains("not valid JSON", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.Contains("handler 'test.payload.fail' failed: InvalidOperationException", StringComparison.Ordinal));
        Assert.Contains(dead, d => d.Message.Value == "this is not json");
    }

    [Fact]
    public async Task VideoPayloads_OfSeveralMegabytes_AreDelivered()
    {
        // librdkafka's mock cluster stops serving a partition holding a record above about 5 MB (checked with a plain
        // consumer); the provider itself is configured for the seed's 20 MiB.
        var data = new string('v', 4 * 1024 * 1024);
        var marker = Guid.NewGuid().ToString();
        var small = Guid.NewGuid().ToString();
        await SendAsync(silo.VideoTopic, JsonSerializer.Serialize(new { worker_run_method = "test.payload.recorder", data = "small", arg1 = small }), marker);
        await WaitUntilAsync(() => RecorderHandler.Calls.Any(c => c.Arg1 == small), () => "a small video payload");
        using (var producer = new ProducerBuilder<string?, string>(new ProducerConfig { BootstrapServers = silo.Kafka.BootstrapServers, MessageMaxBytes = 10_000_000 }).Build())
        {
            await producer.ProduceAsync(silo.VideoTopic, new Message<string?, string> { Key = marker, Value = JsonSerializer.Serialize(new { worker_run_method = "test.payload.recorder", data, arg1 = marker }) });
        }

        await WaitUntilAsync(() => RecorderHandler.Calls.Any(c => c.Arg1 == marker), () => "the video payload");
        Assert.Equal(data.Length, RecorderHandler.Calls.Single(c => c.Arg1 == marker).Data.Length);
    }

    [Fact]
    public async Task JobEvents_GoToPizzaTracker_KeyedByJobId_InTheSeedsJson()
    {
        var sink = silo.Services.GetRequiredService<IJobEventSink>();
        var jobId = "job-" + Guid.NewGuid().ToString("N")[..10];

        await sink.PublishAsync(JobEvent.Created(jobId, "u-test.csv", "example_config.toml", "castiron"));
        await sink.PublishAsync(JobEvent.ProgressUpdate(jobId, 0.4));
        await sink.PublishAsync(JobEvent.StatusUpdate(jobId, "success"));

        var records = silo.Kafka.ReadAll(silo.PizzaTracker, 3, TimeSpan.FromSeconds(30)).Where(r => r.Message.Key == jobId).ToList();
        Assert.Equal(
            [
                $$"""{"type":"job_created","job_id":"{{jobId}}","filename":"u-test.csv","handler":"example_config.toml","uploader":"castiron"}""",
                $$"""{"type":"job_update","job_id":"{{jobId}}","progress":0.4}""",
                $$"""{"type":"job_update","job_id":"{{jobId}}","status":"success"}""",
            ],
            records.Select(r => r.Message.Value));
        Assert.Single(records.Select(r => r.Partition.Value).Distinct());
        // And to the job's feed, readable from any silo.
        await silo.Services.GetRequiredService<Grains.Services.GrainJobEventSink>().FlushAsync();
        Assert.Equal(3, (await silo.Services.GetRequiredService<IGrainFactory>().GetGrain<Grains.IJobEventsGrain>(jobId).ReadAsync(0, 100)).Events.Length);
    }
}
