using Microsoft.Extensions.Logging;
using Orleans.CastIron.Events;
using Orleans.CastIron.Grains;
using Orleans.CastIron.Grains.Services;
using Orleans.CastIron.Processing;
using Orleans.CastIron.Processing.Dotnet;
using Orleans.CastIron.Streaming.Kafka;
using Orleans.Placement;

namespace Orleans.CastIron.Kafka;

/// <summary>A streaming-payload consumer; one activation per stream key (record key, or partition), so per-key order holds.</summary>
public interface IStreamingPayloadGrain : IGrainWithStringKey;

/// <summary>
/// Routes streaming payloads to handlers by name (seed-spec F-23): parses <c>{"worker_run_method", "data", ...}</c>,
/// finds the registered <see cref="ITextPayloadProcessor"/> and calls it with <c>data</c> and the other fields. An
/// unknown handler, a malformed message, a failing handler or one past its deadline is dead-lettered and logged, and
/// consumption goes on (the seed's loop died on a non-JSON message: B-30).
/// </summary>
public abstract partial class StreamingPayloadGrainBase(
    PayloadDispatcher dispatcher,
    IServiceProvider services,
    ILogger logger) : KafkaConsumerGrain(services), IStreamingPayloadGrain
{
    protected override async Task<KafkaRecordOutcome> HandleAsync(KafkaRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        var problem = await dispatcher.DispatchAsync(record.Value, record.ToString(), logger, message =>
        {
            // Per payload: at Debug, and its arguments built only when that level is on (they cost as much as the
            // provider's own work per record).
            if (logger.IsEnabled(LogLevel.Debug))
            {
                LogInvoking(message.WorkerRunMethod, record.ToString(), string.Join(", ", message.Arguments.Keys));
            }

            CurrentWork = $"handler '{message.WorkerRunMethod}'";
        }, cancellationToken);
        // Past the deadline the base class has dead-lettered the record as timed out already.
        return problem is null ? KafkaRecordOutcome.Handled : KafkaRecordOutcome.DeadLetter(problem);
    }

    /// <summary>Reports how it went to a sender awaiting the outcome (a record carrying a request id).</summary>
    protected override async Task OnFinishedAsync(KafkaRecord record, string? deadLetterReason)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.Headers?.GetValueOrDefault(PayloadOutcomes.RequestIdHeader) is not { } requestId)
        {
            return;
        }

        if (!PayloadOutcomes.IsRequestId(requestId))
        {
            // Not one a client made (any producer can set headers): no grain is keyed by whatever it holds.
            LogNotARequestId(record.ToString());
            return;
        }

        try
        {
            var outcome = new PayloadOutcome { Handled = deadLetterReason is null, Problem = deadLetterReason, HandledAt = $"{record} on silo {RuntimeIdentity}" };
            await GrainFactory.GetGrain<IPayloadOutcomeGrain>(requestId).ReportAsync(outcome);
        }
        catch (Exception ex)
        {
            // The record is finished either way; the sender is told no outcome came.
            LogOutcomeNotReported(ex, requestId, record.ToString());
        }
    }

    [LoggerMessage(1, LogLevel.Debug, "invoking {WorkerRunMethod} for {Record} with arguments [{Arguments}]")]
    private partial void LogInvoking(string workerRunMethod, string record, string arguments);

    [LoggerMessage(3, LogLevel.Debug, "Record {Record} has a castiron-request-id header that is not a request id (32 hex digits); no outcome reported")]
    private partial void LogNotARequestId(string record);

    [LoggerMessage(2, LogLevel.Warning, "The outcome of request {RequestId} ({Record}) could not be reported to its sender")]
    private partial void LogOutcomeNotReported(Exception exception, string requestId, string record);
}

/// <summary>Consumes <c>castiron_text_payload</c>.</summary>
/// <remarks>Placed on the silo whose pulling agent read the record, so the record is not serialized to another.</remarks>
[ImplicitStreamSubscription(Namespace)]
[PreferLocalPlacement]
public sealed class StreamingTextGrain(PayloadDispatcher dispatcher, IServiceProvider services, ILogger<StreamingTextGrain> logger)
    : StreamingPayloadGrainBase(dispatcher, services, logger)
{
    /// <summary>Stream namespace of text payloads (fixed, whatever the topic is called).</summary>
    public const string Namespace = "castiron-text-payload";
}

/// <summary>Consumes <c>castiron_video_payload</c> (same contract, messages up to 20 MiB).</summary>
/// <remarks>Placed on the silo whose pulling agent read the record, so megabytes are not serialized to another.</remarks>
[ImplicitStreamSubscription(Namespace)]
[PreferLocalPlacement]
public sealed class StreamingVideoGrain(PayloadDispatcher dispatcher, IServiceProvider services, ILogger<StreamingVideoGrain> logger)
    : StreamingPayloadGrainBase(dispatcher, services, logger)
{
    /// <summary>Stream namespace of video payloads.</summary>
    public const string Namespace = "castiron-video-payload";
}
