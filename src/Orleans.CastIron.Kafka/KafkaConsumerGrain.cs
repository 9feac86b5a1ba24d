using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Streaming.Kafka;
using Orleans.CastIron.Telemetry;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace Orleans.CastIron.Kafka;

/// <summary>What became of a record: handled, or to be dead-lettered with a reason.</summary>
public readonly record struct KafkaRecordOutcome(string? DeadLetterReason)
{
    /// <summary>The record was handled.</summary>
    public static KafkaRecordOutcome Handled => default;

    /// <summary>The record is refused: it goes to the dead-letter topic with <paramref name="reason"/>.</summary>
    public static KafkaRecordOutcome DeadLetter(string reason) => new(reason);
}

/// <summary>
/// The common part of Cast Iron's Kafka consumers: an implicit subscription to <see cref="KafkaRecord"/>s, a deadline
/// for each record's handler, and dead-lettering of records the consumer refuses, so a bad record never stalls its
/// partition.
/// </summary>
/// <remarks>
/// The stream's pulling agent delivers a record again when the call does not answer within Orleans' response timeout,
/// or fails. So that a handler never runs twice because of that, this activation remembers, per topic-partition,
/// the last offset it finished (handled or dead-lettered) and skips anything at or before it; a handler that is
/// still running at <see cref="CastIronKafkaOptions.HandlerTimeout"/> (shorter than the response timeout) is no
/// longer waited for, and its record is dead-lettered as timed out; and a dead letter that could not be sent is
/// remembered, so the redelivery that follows only sends it.
/// </remarks>
public abstract partial class KafkaConsumerGrain : Grain, IAsyncObserver<KafkaRecord>, IStreamSubscriptionObserver
{
    private const string DefaultWork = "the consumer";

    /// <summary>How the reason of a record given up on at its deadline starts.</summary>
    private const string TimeoutPrefix = "timeout: ";

    private readonly Dictionary<(string Topic, int Partition), long> _finished = [];
    private readonly Dictionary<(string Topic, int Partition), (long Offset, string Reason)> _owedDeadLetters = [];
    private readonly TimeSpan _handlerTimeout;
    private readonly IKafkaDeadLetterSink _deadLetters;
    private readonly ILogger _logger;

    protected KafkaConsumerGrain(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        Services = services;
        _handlerTimeout = services.GetRequiredService<IOptions<CastIronKafkaOptions>>().Value.HandlerTimeout;
        _deadLetters = services.GetRequiredService<IKafkaDeadLetterSink>();
        _logger = services.GetRequiredService<ILogger<KafkaConsumerGrain>>();
    }

    /// <summary>The silo's services.</summary>
    protected IServiceProvider Services { get; }

    /// <summary>
    /// What is handling the current record, as the timeout reason names it (e.g. <c>handler 'x'</c>). Reset for
    /// each record; <see cref="HandleAsync"/> sets it before it hands the record on.
    /// </summary>
    protected string CurrentWork { get; set; } = DefaultWork;

    public async Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory)
    {
        ArgumentNullException.ThrowIfNull(handleFactory);
        await handleFactory.Create<KafkaRecord>().ResumeAsync(this);
    }

    public async Task OnNextAsync(KafkaRecord item, StreamSequenceToken? token = null)
    {
        ArgumentNullException.ThrowIfNull(item);
        var partition = (item.Topic, item.Partition);
        if (_finished.TryGetValue(partition, out var finished) && item.Offset <= finished)
        {
            LogAlreadyFinished(_logger, item.ToString(), finished);
            return;
        }

        if (_owedDeadLetters.TryGetValue(partition, out var owed) && owed.Offset == item.Offset)
        {
            // Its handler has run; only the dead letter is missing.
            await DeadLetterAsync(item, owed.Reason);
            return;
        }

        var outcome = await HandleWithinDeadlineAsync(item);
        if (outcome.DeadLetterReason is { } reason)
        {
            await DeadLetterAsync(item, reason);
        }
        else
        {
            Finish(item);
            Count(item, "handled");
            await OnFinishedAsync(item, null);
        }
    }

    /// <summary>
    /// Called once a record is finished: handled (<paramref name="deadLetterReason"/> null) or dead-lettered. Not
    /// called for a redelivery of a finished record. Must not throw: the record is finished either way.
    /// </summary>
    protected virtual Task OnFinishedAsync(KafkaRecord record, string? deadLetterReason) => Task.CompletedTask;

    private static void Count(KafkaRecord record, string outcome) =>
        CastIronTelemetry.Payloads.Add(1, new KeyValuePair<string, object?>(CastIronTelemetry.TopicTag, record.Topic), new KeyValuePair<string, object?>(CastIronTelemetry.PayloadOutcomeTag, outcome));

    public Task OnErrorAsync(Exception ex) => Task.CompletedTask;

    /// <summary>
    /// Handles one record. <paramref name="cancellationToken"/> is cancelled at the deadline, after which the record
    /// is dead-lettered as timed out whether or not the work stops. Refusing a record (returning
    /// <see cref="KafkaRecordOutcome.DeadLetter"/>) dead-letters it; throwing leaves it to the stream provider, which
    /// delivers it again and dead-letters it when delivery keeps failing.
    /// </summary>
    protected abstract Task<KafkaRecordOutcome> HandleAsync(KafkaRecord record, CancellationToken cancellationToken);

    private async Task<KafkaRecordOutcome> HandleWithinDeadlineAsync(KafkaRecord record)
    {
        CurrentWork = DefaultWork;
        using var deadline = new CancellationTokenSource(_handlerTimeout);
        var handling = HandleAsync(record, deadline.Token);
        try
        {
            // WaitAsync: a handler that ignores its token is not waited for past the deadline either.
            return await handling.WaitAsync(deadline.Token);
        }
        catch (Exception) when (deadline.IsCancellationRequested)
        {
            // Whatever ended the wait at the deadline (the wait itself, the handler's cancellation or its failure
            // as the token fired): the handler's own outcome is logged when it comes.
            _ = ObserveAbandonedAsync(handling, record.ToString());
            return KafkaRecordOutcome.DeadLetter($"{TimeoutPrefix}{CurrentWork} did not finish within {_handlerTimeout}");
        }
    }

    /// <summary>Logs how a handler that was given up on at its deadline ended, whenever it does.</summary>
    private async Task ObserveAbandonedAsync(Task<KafkaRecordOutcome> handling, string record)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            var outcome = await handling.ConfigureAwait(false);
            LogAbandonedFinished(_logger, record, clock.Elapsed, outcome.DeadLetterReason ?? "handled");
        }
        catch (OperationCanceledException)
        {
            // It honoured its token: what was asked of it.
            LogAbandonedStopped(_logger, record, clock.Elapsed);
        }
        catch (Exception ex)
        {
            LogAbandonedFailed(_logger, ex, record, clock.Elapsed);
        }
    }

    private async Task DeadLetterAsync(KafkaRecord record, string reason)
    {
        try
        {
            await _deadLetters.SendAsync(record, reason);
        }
        catch (Exception ex)
        {
            // Owed: the pulling agent delivers the record again, and then only this is retried, never the handler.
            _owedDeadLetters[(record.Topic, record.Partition)] = (record.Offset, reason);
            LogDeadLetterFailed(_logger, ex, record.ToString(), reason);
            throw;
        }

        Finish(record);
        Count(record, reason.StartsWith(TimeoutPrefix, StringComparison.Ordinal) ? "timeout" : "dead_lettered");
        await OnFinishedAsync(record, reason);
    }

    private void Finish(KafkaRecord record)
    {
        var partition = (record.Topic, record.Partition);
        _finished[partition] = _finished.TryGetValue(partition, out var finished) ? Math.Max(finished, record.Offset) : record.Offset;
        // A dead letter still owed for an earlier offset was given up on by the agent, whose failure handler
        // dead-letters the record itself.
        if (_owedDeadLetters.TryGetValue(partition, out var owed) && owed.Offset <= record.Offset)
        {
            _owedDeadLetters.Remove(partition);
        }
    }

    [LoggerMessage(1, LogLevel.Debug, "Record {Record} skipped: this consumer already finished offset {Finished} of its partition (a redelivery)")]
    private static partial void LogAlreadyFinished(ILogger logger, string record, long finished);

    [LoggerMessage(2, LogLevel.Warning, "Dead-lettering record {Record} failed ({Reason}); it is retried when the record comes again")]
    private static partial void LogDeadLetterFailed(ILogger logger, Exception exception, string record, string reason);

    [LoggerMessage(3, LogLevel.Warning, "The handler of record {Record}, given up on at its deadline, finished {Late} later: {Outcome}")]
    private static partial void LogAbandonedFinished(ILogger logger, string record, TimeSpan late, string outcome);

    [LoggerMessage(4, LogLevel.Warning, "The handler of record {Record}, given up on at its deadline, failed {Late} later")]
    private static partial void LogAbandonedFailed(ILogger logger, Exception exception, string record, TimeSpan late);

    [LoggerMessage(5, LogLevel.Debug, "The handler of record {Record}, given up on at its deadline, stopped {Late} later")]
    private static partial void LogAbandonedStopped(ILogger logger, string record, TimeSpan late);
}
