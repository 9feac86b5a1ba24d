using System.Text;
using Microsoft.Extensions.Logging;
using Orleans.CastIron.Events;
using Orleans.CastIron.Processing;
using Orleans.CastIron.Processing.Dotnet;
using Orleans.CastIron.Streaming.Kafka;
using Orleans.Streams;

namespace Orleans.CastIron.Kafka;

/// <summary>A streaming-payload consumer; one activation per stream key (record key, or partition), so per-key order holds.</summary>
public interface IStreamingPayloadGrain : IGrainWithStringKey;

/// <summary>
/// Routes streaming payloads to handlers by name (seed-spec F-23): parses <c>{"worker_run_method", "data", ...}</c>,
/// finds the registered <see cref="ITextPayloadProcessor"/> and calls it with <c>data</c> and the other fields. An
/// unknown handler, a malformed message or a failing handler is dead-lettered and logged, and consumption goes on
/// (the seed's loop died on a non-JSON message: B-30).
/// </summary>
public abstract partial class StreamingPayloadGrainBase(
    ProcessorCatalog<ITextPayloadProcessor> handlers,
    IServiceProvider services,
    ILogger logger) : KafkaConsumerGrain(services), IStreamingPayloadGrain
{
    public override async Task OnNextAsync(KafkaRecord item, StreamSequenceToken? token = null)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (!TextPayloadMessage.TryParse(item.Value, out var message, out var problem))
        {
            await DeadLetterAsync(item, problem!);
            return;
        }

        var handler = handlers.Create(Services, message!.WorkerRunMethod);
        if (handler is null)
        {
            await DeadLetterAsync(item, $"no payload handler is registered as '{message.WorkerRunMethod}' (registered: {string.Join(", ", handlers.Names)})");
            return;
        }

        // Per payload: at Debug, and its arguments built only when that level is on (they cost as much as the
        // provider's own work per record).
        if (logger.IsEnabled(LogLevel.Debug))
        {
            LogInvoking(message.WorkerRunMethod, item.ToString(), string.Join(", ", message.Arguments.Keys));
        }

        try
        {
            await handler.ProcessAsync(
                new TextPayload { Data = message.DataText, Arguments = message.Arguments, Origin = item.ToString(), Logger = logger },
                CancellationToken.None);
        }
        catch (Exception ex)
        {
            await DeadLetterAsync(item, $"handler '{message.WorkerRunMethod}' failed: {ex.GetType().Name}: {ex.Message}");
        }
        finally
        {
            (handler as IDisposable)?.Dispose();
        }
    }

    [LoggerMessage(1, LogLevel.Debug, "invoking {WorkerRunMethod} for {Record} with arguments [{Arguments}]")]
    private partial void LogInvoking(string workerRunMethod, string record, string arguments);
}

/// <summary>Consumes <c>castiron_text_payload</c>.</summary>
[ImplicitStreamSubscription(Namespace)]
public sealed class StreamingTextGrain(ProcessorCatalog<ITextPayloadProcessor> handlers, IServiceProvider services, ILogger<StreamingTextGrain> logger)
    : StreamingPayloadGrainBase(handlers, services, logger)
{
    /// <summary>Stream namespace of text payloads (fixed, whatever the topic is called).</summary>
    public const string Namespace = "castiron-text-payload";
}

/// <summary>Consumes <c>castiron_video_payload</c> (same contract, messages up to 20 MiB).</summary>
[ImplicitStreamSubscription(Namespace)]
public sealed class StreamingVideoGrain(ProcessorCatalog<ITextPayloadProcessor> handlers, IServiceProvider services, ILogger<StreamingVideoGrain> logger)
    : StreamingPayloadGrainBase(handlers, services, logger)
{
    /// <summary>Stream namespace of video payloads.</summary>
    public const string Namespace = "castiron-video-payload";
}
