using System.Collections.Immutable;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Orleans.Providers.Streams.Common;
using Orleans.Streams;

namespace Orleans.CastIron.Streaming.Kafka.Providers;

/// <summary>
/// Reads one Orleans queue: the partitions <c>p</c> of one topic with <c>p mod QueuesPerTopic</c> = the queue's index,
/// <c>Assign</c>ed (Orleans' balancer decides which silo reads a queue, no consumer-group rebalancing competes).
/// <list type="bullet">
/// <item>Reads only while it holds the queue's claim (<see cref="IQueueFence"/>): a queue moving between silos is
/// read by the new owner after the old one committed and let go.</item>
/// <item>Commits, per partition, the offset of the first record that is neither delivered nor dead-lettered; a
/// record whose dead-lettering failed holds its partition (paused, retried with backoff, shown in the status)
/// until a dead-letter attempt succeeds.</item>
/// <item>Holds at most <see cref="KafkaStreamOptions.BufferBytes"/> of records read but not delivered; librdkafka's
/// prefetch is bounded by the same number.</item>
/// <item>Never blocks the pulling agent: reads what librdkafka has prefetched; commits, claims and dead-letter
/// retries run beside it.</item>
/// </list>
/// Sequence tokens count records in read order from a base taken from the claim's epoch, so tokens stay ordered within
/// the queue across partitions and a new owner's tokens are newer than any old owner's.
/// </summary>
internal sealed partial class KafkaQueueAdapterReceiver : IQueueAdapterReceiver
{
    private readonly string _providerName;
    private readonly KafkaStreamOptions _options;
    private readonly KafkaTopicOptions _topic;
    private readonly int _queueIndex;
    private readonly KafkaStreamControl _control;
    private readonly KafkaTopology _topology;
    private readonly IQueueFence _fence;
    private readonly KafkaDeadLetters _deadLetters;
    private readonly IKafkaDataAdapter _dataAdapter;
    private readonly Func<ConsumerConfig, IConsumer<byte[]?, byte[]>> _consumerFactory;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Guid _reader = Guid.NewGuid();
    private readonly Lock _gate = new();
    private readonly SortedDictionary<int, PartitionState> _partitions = [];
    private readonly Dictionary<long, Pending> _bySequence = [];
    private IConsumer<byte[]?, byte[]>? _consumer;
    private Task<long>? _claim;
    private DateTimeOffset _nextClaim;
    private bool _waitingReported;
    private long _epoch;
    private long _sequence;
    private long _buffered;
    private bool _fenced;
    private bool _shutdown;
    private Task? _commit;
    private DateTimeOffset _nextCommit;
    private DateTimeOffset _renewed;

    public KafkaQueueAdapterReceiver(
        string providerName,
        KafkaStreamOptions options,
        KafkaTopicOptions topic,
        int queueIndex,
        KafkaStreamControl control,
        KafkaTopology topology,
        IQueueFence fence,
        KafkaDeadLetters deadLetters,
        IKafkaDataAdapter dataAdapter,
        Func<ConsumerConfig, IConsumer<byte[]?, byte[]>>? consumerFactory,
        TimeProvider time,
        ILogger logger)
    {
        _providerName = providerName;
        _options = options;
        _topic = topic;
        _queueIndex = queueIndex;
        _control = control;
        _topology = topology;
        _fence = fence;
        _deadLetters = deadLetters;
        _dataAdapter = dataAdapter;
        _consumerFactory = consumerFactory ?? (config => new ConsumerBuilder<byte[]?, byte[]>(config)
            .SetErrorHandler((_, error) => LogKafkaError(Name, error.Reason))
            .Build());
        _time = time;
        _logger = logger;
    }

    /// <summary><c>topic#queue</c>, for logs and the status.</summary>
    public string Name => $"{_topic.Name}#{_queueIndex}";

    public Task Initialize(TimeSpan timeout) => Initialize(timeout, CancellationToken.None);

    /// <summary>Registers the queue with the silo's control; the claim is taken on the first pull (never blocking the agent).</summary>
    public Task Initialize(TimeSpan timeout, CancellationToken cancellationToken)
    {
        _control.Attach(this);
        return Task.CompletedTask;
    }

    public Task<IList<IBatchContainer>> GetQueueMessagesAsync(int maxCount) => GetQueueMessagesAsync(maxCount, CancellationToken.None);

    public Task<IList<IBatchContainer>> GetQueueMessagesAsync(int maxCount, CancellationToken cancellationToken)
    {
        IList<IBatchContainer> batch = [];
        if (_shutdown || !Owns() || cancellationToken.IsCancellationRequested)
        {
            return Task.FromResult(batch);
        }

        var consumer = _consumer!;
        AssignNewPartitions(consumer);
        ReleaseSettledHolds(consumer);
        // The cache's add count is a hard limit (it throws past it).
        var limit = maxCount <= 0 ? _options.BatchSize : Math.Min(maxCount, _options.BatchSize);
        lock (_gate)
        {
            while (batch.Count < limit && _buffered < _options.BufferBytes)
            {
                // Zero timeout: only what librdkafka has prefetched; the agent's timer polls again shortly.
                var result = consumer.Consume(TimeSpan.Zero);
                if (result is null || result.IsPartitionEOF || result.Message is null)
                {
                    break;
                }

                batch.Add(Accept(result));
            }
        }

        CommitWhenDue();
        return Task.FromResult(batch);
    }

    public Task MessagesDeliveredAsync(IList<IBatchContainer> messages) => MessagesDeliveredAsync(messages, CancellationToken.None);

    /// <summary>The cache let go of these (every consumer is past them): they count as delivered.</summary>
    public Task MessagesDeliveredAsync(IList<IBatchContainer> messages, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            foreach (var message in messages)
            {
                if (message is KafkaBatchContainer container && _bySequence.TryGetValue(container.Token.SequenceNumber, out var pending))
                {
                    Settle(pending);
                }
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Dead-letters the record behind <paramref name="token"/> after its delivery failed for good. When that fails too,
    /// the record's partition holds: nothing past it is committed, and the dead-letter is retried with backoff.
    /// </summary>
    public async Task DeadLetterAsync(StreamSequenceToken? token, string reason)
    {
        Pending? pending;
        lock (_gate)
        {
            pending = token is null ? null : _bySequence.GetValueOrDefault(token.SequenceNumber);
        }

        if (pending is null)
        {
            LogUnknownRecord(Name, token?.SequenceNumber ?? -1, reason);
            return;
        }

        // The cache never reports a record whose delivery failed as delivered: settling it is this method's job.
        try
        {
            await _deadLetters.SendAsync(pending.Record, reason).ConfigureAwait(false);
            lock (_gate)
            {
                Settle(pending);
            }
        }
        catch (Exception ex)
        {
            lock (_gate)
            {
                pending.DeadLetterReason = reason;
                pending.LastError = ex.Message;
                pending.Attempts = 1;
                pending.NextAttempt = _time.GetUtcNow() + RetryDelay(1);
                Settle(pending);
            }

            LogHeld(ex, pending.Record.ToString(), reason, ex.Message);
        }
    }

    private void Settle(Pending pending)
    {
        if (!pending.Delivered)
        {
            pending.Delivered = true;
            _buffered -= pending.Bytes;
        }

        Advance(_partitions[pending.Record.Partition]);
    }

    public Task Shutdown(TimeSpan timeout) => Shutdown(timeout, CancellationToken.None);

    /// <summary>Commits what was delivered, stops reading and lets go of the claim, in that order.</summary>
    public async Task Shutdown(TimeSpan timeout, CancellationToken cancellationToken)
    {
        _shutdown = true;
        _control.Detach(this);
        await WaitQuietly(_commit).ConfigureAwait(false);
        var claim = _claim;
        if (_epoch == 0 && claim is not null)
        {
            // A claim still in flight may yet be granted: give it back rather than leave it to lapse.
            await WaitQuietly(claim).ConfigureAwait(false);
            _epoch = claim.IsCompletedSuccessfully ? claim.Result : 0;
        }

        var consumer = _consumer;
        _consumer = null;
        if (consumer is not null)
        {
            if (!_fenced)
            {
                CommitNow(consumer, PendingCommits());
            }

            consumer.Close();
            consumer.Dispose();
        }

        if (_epoch > 0 && !_fenced)
        {
            try
            {
                await _fence.ReleaseAsync(_reader, _epoch).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // The claim lapses after the lease; the next owner waits that long.
                LogReleaseFailed(ex, Name);
            }
        }

        _epoch = 0;
    }

    /// <summary>The queue as this receiver sees it, for the status page.</summary>
    public KafkaQueueStatus Status()
    {
        lock (_gate)
        {
            var state = _shutdown ? "stopped"
                : _fenced ? "fenced"
                : _epoch == 0 ? "waiting for the previous reader"
                : _partitions.Values.Any(p => p.Held is not null) ? "holding"
                : "reading";
            return new KafkaQueueStatus(
                Name,
                state,
                _buffered,
                [.. _partitions.Values.Select(p => new KafkaPartitionStatus(
                    _topic.Name,
                    p.Partition.Partition.Value,
                    p.LastRead,
                    p.Committed,
                    p.Next,
                    p.HighWatermark,
                    p.Held is { } held ? new KafkaHeldRecord(held.Record.Offset, held.DeadLetterReason ?? "", held.Attempts, held.LastError ?? "", held.NextAttempt) : null))]);
        }
    }

    private bool Owns()
    {
        if (_epoch > 0)
        {
            return !_fenced;
        }

        var claim = _claim;
        if (claim is null)
        {
            if (_time.GetUtcNow() >= _nextClaim)
            {
                _claim = _fence.TryAcquireAsync(_reader);
            }

            return false;
        }

        if (!claim.IsCompleted)
        {
            return false;
        }

        _claim = null;
        var epoch = claim.IsCompletedSuccessfully ? claim.Result : 0;
        if (epoch <= 0)
        {
            if (!_waitingReported)
            {
                _waitingReported = true;
                LogWaitingForOwner(Name, claim.Exception?.GetBaseException().Message ?? "another silo still reads it");
            }

            _nextClaim = _time.GetUtcNow() + TimeSpan.FromMilliseconds(500);
            return false;
        }

        _epoch = epoch;
        _sequence = epoch << 20;
        _renewed = _time.GetUtcNow();
        _nextCommit = _renewed + _options.CommitInterval;
        _consumer = _consumerFactory(ConsumerConfig());
        LogReading(_providerName, Name);
        return true;
    }

    private ConsumerConfig ConsumerConfig()
    {
        var config = new ConsumerConfig(new Dictionary<string, string>(_options.ClientSettings))
        {
            BootstrapServers = _options.BootstrapServers,
            GroupId = _topic.GroupId,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            // One setting bounds the prefetch: a fetch brings at most BufferBytes (a larger record still comes, alone),
            // and librdkafka stops fetching while that much waits in its queue.
            MaxPartitionFetchBytes = Math.Min(_options.MaxMessageBytes, _options.BufferBytes),
            FetchMaxBytes = _options.BufferBytes,
            QueuedMaxMessagesKbytes = Math.Max(1, _options.BufferBytes / 1024),
            ClientId = $"castiron-{_providerName}-{_topic.Name}-{_queueIndex}",
        };
        if (!_options.ClientSettings.ContainsKey("fetch.wait.max.ms"))
        {
            // librdkafka's 500 ms default shows as latency on a quiet partition; 50 ms costs little on a real broker.
            config.FetchWaitMaxMs = 50;
        }

        return config;
    }

    private void AssignNewPartitions(IConsumer<byte[]?, byte[]> consumer)
    {
        var count = _topology.PartitionCount(_topic.Name);
        List<TopicPartitionOffset>? added = null;
        lock (_gate)
        {
            for (var p = _queueIndex; p < count; p += _options.QueuesPerTopic)
            {
                if (!_partitions.ContainsKey(p))
                {
                    var partition = new TopicPartition(_topic.Name, p);
                    _partitions[p] = new PartitionState(partition);
                    (added ??= []).Add(new TopicPartitionOffset(partition, Offset.Stored));
                }
            }
        }

        if (added is not null)
        {
            consumer.IncrementalAssign(added);
            LogAssigned(Name, string.Join(", ", added.Select(a => a.Partition.Value)));
        }
    }

    private KafkaBatchContainer Accept(ConsumeResult<byte[]?, byte[]> result)
    {
        var record = new KafkaRecord
        {
            Topic = result.Topic,
            Partition = result.Partition.Value,
            Offset = result.Offset.Value,
            Key = result.Message.Key is { Length: > 0 } key ? Encoding.UTF8.GetString(key) : null,
            Value = result.Message.Value ?? [],
            Timestamp = result.Message.Timestamp.UtcDateTime,
            Headers = ReadHeaders(result.Message.Headers, out var headerBytes),
        };
        var sequence = ++_sequence;
        var pending = new Pending(record, sequence, record.Value.Length + (result.Message.Key?.Length ?? 0) + headerBytes + 64);
        var state = _partitions[record.Partition];
        state.InFlight.Enqueue(pending);
        state.LastRead = record.Offset;
        _bySequence[sequence] = pending;
        _buffered += pending.Bytes;
        return new KafkaBatchContainer(_dataAdapter.GetStreamId(_topic, record), record, sequence);
    }

    /// <summary>Headers as text; none (most records) allocates nothing.</summary>
    private static ImmutableDictionary<string, string>? ReadHeaders(Headers? headers, out int bytes)
    {
        bytes = 0;
        if (headers is not { Count: > 0 })
        {
            return null;
        }

        var read = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var header in headers)
        {
            var value = header.GetValueBytes() ?? [];
            read[header.Key] = Encoding.UTF8.GetString(value);
            bytes += header.Key.Length + value.Length;
        }

        return read.ToImmutable();
    }

    /// <summary>Moves the partition's commit point past records that are done; stops at one that still needs dead-lettering.</summary>
    private void Advance(PartitionState state)
    {
        while (state.InFlight.TryPeek(out var front) && front.Delivered)
        {
            if (front.DeadLetterReason is not null)
            {
                if (state.Held is null)
                {
                    state.Held = front;
                    state.HoldChanged = true;
                }

                return;
            }

            state.InFlight.Dequeue();
            _bySequence.Remove(front.Sequence);
            state.Next = front.Record.Offset + 1;
        }
    }

    /// <summary>Pauses held partitions, retries their dead letters when due, and lets them go once one succeeded.</summary>
    private void ReleaseSettledHolds(IConsumer<byte[]?, byte[]> consumer)
    {
        List<TopicPartition>? pause = null;
        List<TopicPartition>? resume = null;
        lock (_gate)
        {
            foreach (var state in _partitions.Values)
            {
                if (state.Held is not { } held)
                {
                    continue;
                }

                if (state.HoldChanged)
                {
                    state.HoldChanged = false;
                    (pause ??= []).Add(state.Partition);
                }

                if (held.DeadLetterReason is null)
                {
                    state.Held = null;
                    Advance(state);
                    if (state.Held is null)
                    {
                        LogReleased(held.Record.ToString(), held.Attempts);
                        (resume ??= []).Add(state.Partition);
                    }
                }
                else if (held.Retry is not { IsCompleted: false } && _time.GetUtcNow() >= held.NextAttempt)
                {
                    // Beside the agent and outside the lock: a produce can take up to the dead-letter timeout.
                    held.Retry = Task.Run(() => RetryDeadLetterAsync(held));
                }
            }
        }

        if (pause is not null)
        {
            consumer.Pause(pause);
        }

        if (resume is not null)
        {
            consumer.Resume(resume);
        }
    }

    private async Task RetryDeadLetterAsync(Pending held)
    {
        string reason;
        lock (_gate)
        {
            reason = held.DeadLetterReason!;
        }

        try
        {
            await _deadLetters.SendAsync(held.Record, reason).ConfigureAwait(false);
            lock (_gate)
            {
                held.DeadLetterReason = null;
            }
        }
        catch (Exception ex)
        {
            lock (_gate)
            {
                held.Attempts++;
                held.LastError = ex.Message;
                held.NextAttempt = _time.GetUtcNow() + RetryDelay(held.Attempts);
            }

            LogStillHeld(held.Record.ToString(), held.Attempts, ex.Message);
        }
    }

    private TimeSpan RetryDelay(int attempts)
    {
        var seconds = Math.Pow(2, Math.Min(attempts - 1, 16));
        return TimeSpan.FromSeconds(Math.Min(seconds, _options.HeldRetryMaxInterval.TotalSeconds));
    }

    private List<TopicPartitionOffset> PendingCommits()
    {
        lock (_gate)
        {
            return [.. _partitions.Values.Where(p => p.Next > p.Committed).Select(p => new TopicPartitionOffset(p.Partition, new Offset(p.Next)))];
        }
    }

    /// <summary>Starts a commit beside the agent when one is due; the claim is renewed first when it is getting old.</summary>
    private void CommitWhenDue()
    {
        var now = _time.GetUtcNow();
        if (now < _nextCommit || _commit is { IsCompleted: false })
        {
            return;
        }

        _nextCommit = now + _options.CommitInterval;
        var offsets = PendingCommits();
        var renewDue = now - _renewed >= _options.OwnershipLease / 3;
        if (offsets.Count == 0 && !renewDue)
        {
            RefreshWatermarks();
            return;
        }

        var consumer = _consumer!;
        _commit = Task.Run(async () =>
        {
            // A commit only within half a lease of a confirmed claim: a reader that lost its claim (its silo stalled past
            // the lease) must not write an old position over the new owner's.
            if (renewDue || _time.GetUtcNow() - _renewed >= _options.OwnershipLease / 2)
            {
                bool renewed;
                try
                {
                    renewed = await _fence.RenewAsync(_reader, _epoch).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    LogRenewFailed(ex, Name);
                    return;
                }

                if (!renewed)
                {
                    _fenced = true;
                    LogFenced(Name);
                    return;
                }

                _renewed = _time.GetUtcNow();
            }

            CommitNow(consumer, offsets);
            RefreshWatermarks();
        });
    }

    private void CommitNow(IConsumer<byte[]?, byte[]> consumer, List<TopicPartitionOffset> offsets)
    {
        if (offsets.Count == 0)
        {
            return;
        }

        try
        {
            consumer.Commit(offsets);
            lock (_gate)
            {
                foreach (var offset in offsets)
                {
                    var state = _partitions[offset.Partition.Value];
                    state.Committed = Math.Max(state.Committed, offset.Offset.Value);
                }
            }
        }
        catch (KafkaException ex)
        {
            LogCommitFailed(ex, Name, ex.Error.Reason);
        }
    }

    private void RefreshWatermarks()
    {
        var consumer = _consumer;
        if (consumer is null)
        {
            return;
        }

        lock (_gate)
        {
            foreach (var state in _partitions.Values)
            {
                var high = consumer.GetWatermarkOffsets(state.Partition).High;
                if (high != Offset.Unset)
                {
                    state.HighWatermark = high.Value;
                }
            }
        }
    }

    private static async Task WaitQuietly(Task? task)
    {
        if (task is null)
        {
            return;
        }

        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Logged where it happened.
        }
    }

    /// <summary>What is known of one partition read by this queue.</summary>
    private sealed class PartitionState(TopicPartition partition)
    {
        public TopicPartition Partition { get; } = partition;

        public Queue<Pending> InFlight { get; } = new();

        public long LastRead { get; set; } = -1;

        /// <summary>The next offset to commit: everything before it is delivered or dead-lettered (-1: nothing yet).</summary>
        public long Next { get; set; } = -1;

        public long Committed { get; set; } = -1;

        public long? HighWatermark { get; set; }

        public Pending? Held { get; set; }

        public bool HoldChanged { get; set; }
    }

    /// <summary>A record read and not yet settled.</summary>
    private sealed class Pending(KafkaRecord record, long sequence, int bytes)
    {
        public KafkaRecord Record { get; } = record;

        public long Sequence { get; } = sequence;

        public int Bytes { get; } = bytes;

        public bool Delivered { get; set; }

        /// <summary>Set while the record still has to be dead-lettered (the first attempt failed).</summary>
        public string? DeadLetterReason { get; set; }

        public string? LastError { get; set; }

        public int Attempts { get; set; }

        public DateTimeOffset NextAttempt { get; set; }

        public Task? Retry { get; set; }
    }

    [LoggerMessage(1, LogLevel.Information, "Kafka stream provider '{Provider}' reads queue {Queue}")]
    private partial void LogReading(string provider, string queue);

    [LoggerMessage(2, LogLevel.Warning, "Kafka client error on queue {Queue}: {Reason}")]
    private partial void LogKafkaError(string queue, string reason);

    [LoggerMessage(3, LogLevel.Warning, "Committing the delivered offsets of queue {Queue} failed ({Reason}); retried at the next commit, records after the last commit may be delivered again")]
    private partial void LogCommitFailed(Exception exception, string queue, string reason);

    [LoggerMessage(4, LogLevel.Information, "Queue {Queue} reads partitions {Partitions}")]
    private partial void LogAssigned(string queue, string partitions);

    [LoggerMessage(5, LogLevel.Information, "Queue {Queue} waits for its previous reader to commit and let go ({Why})")]
    private partial void LogWaitingForOwner(string queue, string why);

    [LoggerMessage(6, LogLevel.Error, "Record {Record} could not be delivered ({Reason}) nor dead-lettered ({Error}): its partition holds here, nothing past it is committed, and dead-lettering is retried")]
    private partial void LogHeld(Exception exception, string record, string reason, string error);

    [LoggerMessage(7, LogLevel.Warning, "Dead-lettering held record {Record} failed again (attempt {Attempts}): {Error}")]
    private partial void LogStillHeld(string record, int attempts, string error);

    [LoggerMessage(8, LogLevel.Information, "Held record {Record} dead-lettered after {Attempts} failed attempts; its partition goes on")]
    private partial void LogReleased(string record, int attempts);

    [LoggerMessage(9, LogLevel.Error, "Queue {Queue} lost its claim to another silo: it stops reading and committing here")]
    private partial void LogFenced(string queue);

    [LoggerMessage(10, LogLevel.Warning, "Renewing the claim on queue {Queue} failed; retried at the next commit")]
    private partial void LogRenewFailed(Exception exception, string queue);

    [LoggerMessage(11, LogLevel.Warning, "Letting go of queue {Queue} failed; its next reader waits for the claim to lapse")]
    private partial void LogReleaseFailed(Exception exception, string queue);

    [LoggerMessage(12, LogLevel.Error, "Delivery failed on queue {Queue} (sequence {Sequence}: {Reason}), and the record is no longer held; it was not dead-lettered")]
    private partial void LogUnknownRecord(string queue, long sequence, string reason);
}
