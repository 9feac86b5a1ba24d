using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Orleans.CastIron.Telemetry;

/// <summary>
/// Cast Iron's metrics and traces: one <see cref="Meter"/> and one <see cref="ActivitySource"/>, both named
/// <see cref="Name"/>. Nothing is measured or traced unless something listens (the silo's OpenTelemetry wiring when an
/// OTLP endpoint is configured, a test's listener): an instrument without listeners and an activity source without
/// listeners cost a branch each.
/// </summary>
public static class CastIronTelemetry
{
    /// <summary>The name of the meter and of the activity source.</summary>
    public const string Name = "Orleans.CastIron";

    /// <summary>Tag: the file id (the FileJob grain key).</summary>
    public const string FileIdTag = "castiron.file.id";

    /// <summary>Tag: the job id.</summary>
    public const string JobIdTag = "castiron.job.id";

    /// <summary>Tag: a file status (<c>Queued</c>, <c>Processing</c>, <c>Complete</c>, <c>Failed</c>, <c>Canceled</c>).</summary>
    public const string StatusTag = "castiron.file.status";

    /// <summary>Tag: the processor kind (<c>shell</c>, <c>python</c>, <c>dotnet</c>).</summary>
    public const string ProcessorKindTag = "castiron.processor.kind";

    /// <summary>Tag: how an attempt ended (<c>succeeded</c>, <c>failed</c>, <c>canceled</c>, <c>abandoned</c>).</summary>
    public const string AttemptOutcomeTag = "castiron.attempt.outcome";

    /// <summary>Tag: the attempt number.</summary>
    public const string AttemptTag = "castiron.attempt";

    /// <summary>Tag: the config key.</summary>
    public const string ConfigTag = "castiron.config";

    /// <summary>Tag: an object key.</summary>
    public const string ObjectKeyTag = "castiron.object.key";

    /// <summary>Tag: a Kafka topic.</summary>
    public const string TopicTag = "messaging.destination.name";

    /// <summary>Tag: a Kafka partition.</summary>
    public const string PartitionTag = "messaging.destination.partition.id";

    /// <summary>Tag: what became of a Kafka payload (<c>handled</c>, <c>dead_lettered</c>, <c>timeout</c>).</summary>
    public const string PayloadOutcomeTag = "castiron.payload.outcome";

    private static readonly string? Version = typeof(CastIronTelemetry).Assembly.GetName().Version?.ToString();

    private static readonly Lock LagLock = new();
    private static ImmutableList<Func<IEnumerable<KafkaLag>>> _lagSources = [];

    /// <summary>The activity source of the file workflow's traces.</summary>
    public static ActivitySource Source { get; } = new(Name, Version);

    /// <summary>The meter of every Cast Iron instrument.</summary>
    public static Meter Meter { get; } = new(Name, Version);

    /// <summary>
    /// <c>castiron.file.status_transitions</c>: status records written, by <see cref="StatusTag"/>. A file that
    /// completes counts <c>Queued</c>, <c>Processing</c>, <c>Complete</c> once each (a write repeated after a crash
    /// counts again).
    /// </summary>
    public static Counter<long> StatusTransitions { get; } = Meter.CreateCounter<long>(
        "castiron.file.status_transitions", "{transition}", "File status records written, by the status written");

    /// <summary><c>castiron.processing.duration</c>: how long processor attempts ran, in seconds, by kind and outcome.</summary>
    public static Histogram<double> ProcessingDuration { get; } = Meter.CreateHistogram<double>(
        "castiron.processing.duration",
        "s",
        "Duration of processor attempts, by processor kind and outcome",
        tags: null,
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600] });

    /// <summary><c>castiron.processing.attempts</c>: processor attempts ended, by kind and outcome.</summary>
    public static Counter<long> Attempts { get; } = Meter.CreateCounter<long>(
        "castiron.processing.attempts", "{attempt}", "Processor attempts ended, by processor kind and outcome");

    /// <summary><c>castiron.kafka.payloads</c>: Kafka records finished by Cast Iron's consumers, by topic and outcome.</summary>
    public static Counter<long> Payloads { get; } = Meter.CreateCounter<long>(
        "castiron.kafka.payloads", "{record}", "Kafka records finished by Cast Iron's consumers: handled, dead-lettered or timed out");

    /// <summary><c>castiron.kafka.dead_letters</c>: records written to a dead-letter topic, by the record's topic.</summary>
    public static Counter<long> DeadLetters { get; } = Meter.CreateCounter<long>(
        "castiron.kafka.dead_letters", "{record}", "Kafka records written to their topic's dead-letter topic, by the record's own topic");

    /// <summary>
    /// <c>castiron.kafka.lag</c>: per topic-partition read on this silo, records past the delivered position (end offset
    /// minus delivered), from every source added with <see cref="AddKafkaLagSource"/>.
    /// </summary>
    public static ObservableGauge<long> KafkaLagGauge { get; } = Meter.CreateObservableGauge(
        "castiron.kafka.lag", ObserveLag, "{record}", "Kafka records not yet delivered, per topic-partition read on this silo");

    /// <summary>Adds a source of per-partition lag to <see cref="KafkaLagGauge"/> until the returned handle is disposed.</summary>
    public static IDisposable AddKafkaLagSource(Func<IEnumerable<KafkaLag>> source)
    {
        ArgumentNullException.ThrowIfNull(source);
        lock (LagLock)
        {
            _lagSources = _lagSources.Add(source);
        }

        return new LagRegistration(source);
    }

    /// <summary>The processor-kind tag value of a config.</summary>
    public static string KindName(ProcessorKind kind) => kind switch
    {
        ProcessorKind.Shell => "shell",
        ProcessorKind.Python => "python",
        ProcessorKind.Dotnet => "dotnet",
        _ => kind.ToString().ToLowerInvariant(),
    };

    private static IEnumerable<Measurement<long>> ObserveLag()
    {
        foreach (var source in _lagSources)
        {
            IEnumerable<KafkaLag> lags;
            try
            {
                lags = [.. source()];
            }
            catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
            {
                // A provider shutting down: nothing to report from it.
                continue;
            }

            foreach (var lag in lags)
            {
                yield return new Measurement<long>(lag.Lag, new KeyValuePair<string, object?>(TopicTag, lag.Topic), new KeyValuePair<string, object?>(PartitionTag, lag.Partition.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }
        }
    }

    private sealed class LagRegistration(Func<IEnumerable<KafkaLag>> source) : IDisposable
    {
        public void Dispose()
        {
            lock (LagLock)
            {
                _lagSources = _lagSources.Remove(source);
            }
        }
    }
}

/// <summary>One partition's lag: records past its delivered position.</summary>
public readonly record struct KafkaLag(string Topic, int Partition, long Lag);
