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

/// <summary>Runs 3 s whatever its token says (past a short deadline and response timeout); counts its runs by <c>arg1</c>.</summary>
[TextPayloadProcessor("test.payload.stubborn")]
public sealed class StubbornHandler : ITextPayloadProcessor
{
    public static readonly ConcurrentDictionary<string, int> Runs = new();

    public static readonly ConcurrentDictionary<string, bool> Finished = new();

    public async Task ProcessAsync(TextPayload payload, CancellationToken cancellationToken)
    {
        var key = payload.Argument("arg1")!;
        Runs.AddOrUpdate(key, 1, (_, runs) => runs + 1);
        // The token is ignored on purpose.
        await Task.Delay(TimeSpan.FromSeconds(3), CancellationToken.None);
        Finished[key] = true;
    }
}

/// <summary>Waits up to 10 s for its token; records, by <c>arg1</c>, its runs and when the token was cancelled.</summary>
[TextPayloadProcessor("test.payload.cooperative")]
public sealed class CooperativeHandler : ITextPayloadProcessor
{
    public static readonly ConcurrentDictionary<string, int> Runs = new();

    public static readonly ConcurrentDictionary<string, TimeSpan> CancelledAfter = new();

    public async Task ProcessAsync(TextPayload payload, CancellationToken cancellationToken)
    {
        var key = payload.Argument("arg1")!;
        Runs.AddOrUpdate(key, 1, (_, runs) => runs + 1);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(10), cancellationToken);
        }
        catch (OperationCanceledException)
        {
            CancelledAfter[key] = clock.Elapsed;
            throw;
        }
    }
}

/// <summary>Fails, counting its runs by <c>arg1</c>.</summary>
[TextPayloadProcessor("test.payload.count-fail")]
public sealed class CountingFailingHandler : ITextPayloadProcessor
{
    public static readonly ConcurrentDictionary<string, int> Runs = new();

    public Task ProcessAsync(TextPayload payload, CancellationToken cancellationToken)
    {
        Runs.AddOrUpdate(payload.Argument("arg1")!, 1, (_, runs) => runs + 1);
        throw new InvalidOperationException("handler failed on purpose");
    }
}
