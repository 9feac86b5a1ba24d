using System.Text.Json;

namespace Orleans.CastIron.Processing.Samples;

/// <summary>
/// The seed's <c>etl.util.process_file_stub</c> (its test config names it): does nothing with the file but say what it
/// was given, the path and the named arguments, in the output and the log.
/// </summary>
[FileProcessor(Name, PythonStandIn = true)]
public sealed partial class ProcessFileStub : IFileProcessor
{
    public const string Name = "etl.util.process_file_stub";

    public async Task ProcessAsync(FileJobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var arguments = JsonSerializer.Serialize(context.Arguments);
        await context.Output.WriteLineAsync($"process_file_stub: {context.LocalPath} {arguments}").ConfigureAwait(false);
        LogCalled(context.Logger, context.LocalPath, arguments);
    }

    [LoggerMessage(1, LogLevel.Information, "process_file_stub: {LocalPath} {Arguments}")]
    private static partial void LogCalled(ILogger logger, string localPath, string arguments);
}
