using Orleans.CastIron.Processing;

namespace Orleans.CastIron.TestPlugin;

/// <summary>
/// Appends the payload's <c>n</c> argument as a line to <c>&lt;out&gt;.&lt;process id&gt;</c> (one file per silo
/// process, so processes never interleave their lines): a test counts what every silo handled, duplicates included.
/// </summary>
[TextPayloadProcessor("test.payload.record")]
public sealed class RecordingPayloadHandler : ITextPayloadProcessor
{
    private static readonly Lock Gate = new();

    public Task ProcessAsync(TextPayload payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(payload);
        var path = $"{payload.Argument("out") ?? throw new InvalidDataException("no 'out' argument")}.{Environment.ProcessId}";
        lock (Gate)
        {
            File.AppendAllText(path, payload.Argument("n") + "\n");
        }

        return Task.CompletedTask;
    }
}
