using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Orleans.CastIron.Events;
using Orleans.CastIron.Files;
using Orleans.CastIron.Grains;
using Orleans.CastIron.Storage;
using Orleans.CastIron.Streaming.Kafka.Tests;
using Orleans.CastIron.Tests;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace Orleans.CastIron.Kafka.Tests;

/// <summary>An event source that delivers nothing: these silos learn of objects only from Kafka.</summary>
internal sealed class SilentEventSource : IObjectEventSource
{
    public Task RunAsync(Func<BucketEvent, CancellationToken, Task> handler, CancellationToken cancellationToken) =>
        Task.Delay(Timeout.Infinite, cancellationToken);
}

public class BucketNotificationTests : IAsyncLifetime
{
    private readonly KafkaPeer _kafka = new();
    private readonly string _topic = $"castiron_etl_source_file-{Guid.NewGuid():N}";
    private readonly string _root = Path.Combine(Path.GetTempPath(), "castiron-kafka-tests", Guid.NewGuid().ToString("N"));
    private InProcessTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        using (var producer = _kafka.CreateProducer())
        {
            // A valid notification for a key outside every inbox: it creates the topic and is ignored.
            await producer.ProduceAsync(_topic, new Message<string?, string> { Key = "etl/warm-up.txt", Value = "{\"EventName\":\"s3:ObjectCreated:Put\",\"Key\":\"etl/warm-up.txt\"}" });
        }

        var builder = new InProcessTestClusterBuilder(initialSilosCount: 1).WithLogsInBuildOutput();
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddCastIronKafka(configure: o =>
            {
                o.Broker = _kafka.BootstrapServers;
                o.BucketNotifications = true;
                o.SourceFileTopic = _topic;
                o.TextPayloadTopic = _topic + "-text";
                o.VideoPayloadTopic = _topic + "-video";
                o.PizzaTrackerTopic = _topic + "-pizza";
            });
            silo.AddCastIron(configure: o => o.RecoveryInterval = TimeSpan.FromSeconds(1));
            silo.Services.AddSingleton<IObjectEventSource, SilentEventSource>();
            silo.Services.AddCastIronLocalFolder("etl", CastIronNames.GrainStorage, o => o.RootPath = _root);
        });
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        _kafka.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    /// <summary>Writes an object into the bucket folder and publishes the notification MinIO's Kafka target would.</summary>
    private async Task PutAsync(string key, string content)
    {
        var path = Path.Combine(_root, "etl", key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, content);
        var notification = new
        {
            EventName = "s3:ObjectCreated:Put",
            Key = $"etl/{key}",
            Records = new[]
            {
                new
                {
                    eventName = "s3:ObjectCreated:Put",
                    requestParameters = new { sourceIPAddress = "172.18.0.1" },
                    s3 = new { bucket = new { name = "etl" }, @object = new { key = Uri.EscapeDataString(key), size = content.Length, eTag = "e", contentType = "text/csv", userMetadata = new Dictionary<string, string> { ["content-type"] = "text/csv" } } },
                },
            },
        };
        using var producer = _kafka.CreateProducer();
        await producer.ProduceAsync(_topic, new Message<string?, string> { Key = $"etl/{key}", Value = JsonSerializer.Serialize(notification) });
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out waiting for {what}");
            }

            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task AFileAnnouncedByAMinioNotificationOnKafka_GoesThroughTheWholeLifecycle()
    {
        var statusStore = _cluster.GetSiloServiceProvider(_cluster.Silos[0].SiloAddress).GetRequiredService<IFileStatusStore>();
        await PutAsync("cfg.toml", """
            [castiron.etl]
            enabled = true
            handled_file_glob = ".csv"
            inbox_dir = "01_inbox"
            processing_dir = "02_processing"
            archive_dir = "03_archive"
            error_dir = "04_failed"
            save_error_log = true
            shell = "grep -q payload \"$ETL_FILENAME\""
            """);
        await WaitUntilAsync(() => Task.FromResult(File.Exists(Path.Combine(_root, "etl", "05_canceled", ".keep"))), "the config registered from its notification");

        await PutAsync("01_inbox/from kafka.csv", "payload");

        FileStatusRecord? record = null;
        await WaitUntilAsync(async () => (record = (await statusStore.QueryAsync(FileStatus.Complete, 10)).SingleOrDefault()) is not null, "the file Complete");
        Assert.Equal("from kafka.csv", record!.OriginalFilename);
        Assert.Equal([FileStatus.Queued, FileStatus.Processing, FileStatus.Complete], record.Transitions.Select(t => t.Status));
        Assert.True(File.Exists(Path.Combine(_root, "etl", "03_archive", $"{record.Id}-from kafka.csv")));
    }

    [Fact]
    public async Task AnUnreadableNotification_IsDeadLettered()
    {
        using (var producer = _kafka.CreateProducer())
        {
            await producer.ProduceAsync(_topic, new Message<string?, string> { Key = "etl/x", Value = "{\"EventName\":\"s3:ObjectAccessed:Get\",\"Key\":\"etl/x\"}" });
        }

        var dead = _kafka.ReadAll($"{_topic}-dlq", 1, TimeSpan.FromSeconds(30));

        var letter = Assert.Single(dead);
        Assert.Equal("etl/x", letter.Message.Key);
        Assert.Contains("UnsupportedEvent", System.Text.Encoding.UTF8.GetString(letter.Message.Headers.GetLastBytes("castiron-error")), StringComparison.Ordinal);
    }
}
