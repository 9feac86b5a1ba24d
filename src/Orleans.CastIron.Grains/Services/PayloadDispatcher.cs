using Orleans.CastIron.Processing;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Processing.Dotnet;
using Orleans.CastIron.Processing.Python;

namespace Orleans.CastIron.Grains.Services;

/// <summary>Where a payload message can be produced (Kafka's payload topics, when a broker is configured).</summary>
public interface IPayloadPublisher
{
    /// <summary>
    /// Produces the message, with <paramref name="requestId"/> in the <see cref="PayloadOutcomes.RequestIdHeader"/>
    /// header when given; returns <c>topic/partition@offset</c>.
    /// </summary>
    Task<string> PublishAsync(PayloadKind kind, byte[] message, string? requestId, CancellationToken cancellationToken);
}

/// <summary>
/// Runs a payload message's handler by name (seed-spec F-23): <c>{"worker_run_method", "data", ...}</c> parsed, the
/// registered <see cref="ITextPayloadProcessor"/> found and called with <c>data</c> and the other fields, or, for a
/// name <c>CastIron:Python:AllowedHandlers</c> allows, the Python callable called as the seed did
/// (<c>handler(data=..., **fields)</c>). One way for the Kafka payload grains and for messages a client asks the
/// cluster to handle directly.
/// </summary>
public sealed class PayloadDispatcher(ProcessorCatalog<ITextPayloadProcessor> handlers, PythonHost python, IOptions<ProcessingOptions> processing, IServiceProvider services)
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

        var name = message!.WorkerRunMethod;
        if (RunsOnPython(name))
        {
            invoking?.Invoke(message);
            return await CallPythonAsync(message, logger, cancellationToken).ConfigureAwait(false);
        }

        var handler = handlers.Create(services, name);
        if (handler is null)
        {
            return $"no payload handler is registered as '{name}' (registered: {string.Join(", ", handlers.Names)}), and CastIron:Python:AllowedHandlers does not allow it to run on Python";
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

    /// <summary>
    /// Python when allowed and not claimed by a .NET handler, except that a built-in stand-in (the seed's example)
    /// gives way only to a module found on the Python path.
    /// </summary>
    private bool RunsOnPython(string name) =>
        python.AllowsHandler(name) && (!handlers.Contains(name) || (handlers.IsPythonStandIn(name) && python.FindsModule(name)));

    private async Task<string?> CallPythonAsync(TextPayloadMessage message, ILogger logger, CancellationToken cancellationToken)
    {
        var arguments = new JsonObject();
        foreach (var (field, value) in message.Arguments)
        {
            arguments[field] = JsonNode.Parse(value.GetRawText());
        }

        // data as the seed's json.loads gave it: a string stays a string, any other value arrives as that value.
        arguments["data"] = message.DataIsString ? JsonValue.Create(message.DataText) : JsonNode.Parse(message.DataUtf8.Span);
        var output = new OutputTail(8 * 1024);
        PythonOutcome outcome;
        try
        {
            outcome = await python.CallHandlerAsync(message.WorkerRunMethod, arguments, processing.Value.WorkRoot, output, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not OperationCanceledException)
        {
            // Its scratch folder could not be made, say: the message's failure, reported like a handler's.
            return $"handler '{message.WorkerRunMethod}' failed: {ex.GetType().Name}: {ex.Message}";
        }

        var printed = output.ToString().TrimEnd();
        if (printed.Length > 0)
        {
            // What the handler printed, as the seed's Ray workers streamed it into the log.
            logger.LogInformation("Python handler {Handler} on {Runtime} printed:\n{Output}", message.WorkerRunMethod, outcome.Runtime, printed);
        }

        return outcome.Failure is null ? null : $"handler '{message.WorkerRunMethod}' failed: {outcome.Failure}";
    }
}
