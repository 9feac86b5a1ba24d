using System.Collections.Concurrent;
using Orleans.CastIron.Processing;

namespace Orleans.CastIron.Kafka.Tests;

[TextPayloadProcessor("test.payload.recorder")]
public sealed class RecorderHandler : ITextPayloadProcessor
{
    public static readonly ConcurrentQueue<(string Origin, string Data, string? Arg1, string? Arg2)> Calls = new();

    public Task ProcessAsync(TextPayload payload, CancellationToken cancellationToken)
    {
        Calls.Enqueue((payload.Origin, payload.Data, payload.Argument("arg1"), payload.Argument("arg2")));
        return Task.CompletedTask;
    }
}

[TextPayloadProcessor("test.payload.fail")]
public sealed class FailingHandler : ITextPayloadProcessor
{
    public Task ProcessAsync(TextPayload payload, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("handler failed on purpose");
}
