using Orleans.CastIron.Processing;
using Orleans.CastIron.Processing.Dotnet;

namespace Orleans.CastIron.Grains.Services;

/// <summary>Where a payload message can be produced (Kafka's payload topics, when a broker is configured).</summary>
public interface IPayloadPublisher
{
    /// <summary>Produces the message; returns <c>topic/partition@offset</c>.</summary>
    Task<string> PublishAsync(PayloadKind kind, byte[] message, CancellationToken cancellationToken);
}

/// <summary>
/// Runs a payload message's handler by name (seed-spec F-23): <c>{"worker_run_method", "data", ...}</c> parsed, the
/// registered <see cref="ITextPayloadProcessor"/> found and called with <c>data</c> and the other fields. One way for
/// the Kafka payload grains and for messages a client asks the cluster to handle directly.
/// </summary>
public sealed class PayloadDispatcher(ProcessorCatalog<ITextPayloadProcessor> handlers, IServiceProvider services)
{
    /// <summary>
    /// Handles one message; null when handled, else why not. A handler still running when
    /// <paramref name="cancellationToken"/> fires is the caller's to report (its exception is not caught).
    /// </summary>
    /// <param name="invoking">Called with the handler's name just before it runs.</param>
    public async Task<string?> DispatchAsync(ReadOnlyMemory<byte> utf8Json, string origin, ILogger logger, Action<TextPayloadMessage>? invoking, CancellationToken cancellationToken)
    {
        if (!TextPayloadMessage.TryParse(utf8Json, out var message, out var problem))
        {
            return problem!;
        }

        var handler = handlers.Create(services, message!.WorkerRunMethod);
        if (handler is null)
        {
            return $"no payload handler is registered as '{message.WorkerRunMethod}' (registered: {string.Join(", ", handlers.Names)})";
        }

        invoking?.Invoke(message);
        try
        {
            // Data stays a view of the message's bytes; the text is decoded only if the handler reads it.
            var payload = new TextPayload { DataUtf8 = message.DataUtf8, Arguments = message.Arguments, Origin = origin, Logger = logger };
            await handler.ProcessAsync(payload, cancellationToken);
            return null;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            return $"handler '{message.WorkerRunMethod}' failed: {ex.GetType().Name}: {ex.Message}";
        }
        finally
        {
            // When the handler is done, which for one given up on at its deadline is later than the message.
            (handler as IDisposable)?.Dispose();
        }
    }
}
