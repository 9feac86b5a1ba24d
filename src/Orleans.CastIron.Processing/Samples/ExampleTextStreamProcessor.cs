namespace Orleans.CastIron.Processing.Samples;

/// <summary>
/// The seed's streaming example (<c>etl/example/example_text_stream_processor.py</c>) under its seed name: logs the
/// data and the <c>arg1</c> / <c>arg2</c> arguments, as the seed's README shows.
/// </summary>
[TextPayloadProcessor(Name, PythonStandIn = true)]
public sealed partial class ExampleTextStreamProcessor : ITextPayloadProcessor
{
    public const string Name = "etl.example.example_text_stream_processor.process";

    public Task ProcessAsync(TextPayload payload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(payload);
        LogData(payload.Logger, payload.Data);
        LogArguments(payload.Logger, payload.Argument("arg1"), payload.Argument("arg2"));
        return Task.CompletedTask;
    }

    [LoggerMessage(1, LogLevel.Information, "in example text stream processor got data {Data}")]
    private static partial void LogData(ILogger logger, string data);

    [LoggerMessage(2, LogLevel.Information, "got arg1 {Arg1} and arg2 {Arg2}")]
    private static partial void LogArguments(ILogger logger, string? arg1, string? arg2);
}
