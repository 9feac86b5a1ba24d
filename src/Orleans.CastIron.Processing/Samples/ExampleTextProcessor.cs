using System.Text.Json;

namespace Orleans.CastIron.Processing.Samples;

/// <summary>
/// The seed's example processor (<c>etl/example/example_text_processor.py</c>) under its seed name, so the seed's
/// <c>example_config.toml</c> runs unchanged: logs the path, the metadata and <c>field1_param</c>, then reads the file
/// as CSV with the columns <c>timestamp, longitude, latitude, elevation, data_id</c> and logs every row (the header
/// line included, as the seed did).
/// </summary>
[FileProcessor(Name, PythonStandIn = true)]
public sealed partial class ExampleTextProcessor : IFileProcessor
{
    public const string Name = "etl.example.example_text_processor.process";

    private static readonly string[] Columns = ["timestamp", "longitude", "latitude", "elevation", "data_id"];

    public async Task ProcessAsync(FileJobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!context.Arguments.TryGetValue("field1_param", out var field1))
        {
            throw new ArgumentException("field1_param is required: set it in [castiron.etl.python.static_kwargs]");
        }

        var metadata = context.Arguments.TryGetValue("file_metadata", out var m) ? JsonSerializer.Serialize(m) : "null";
        await context.Output.WriteLineAsync($"processing {context.LocalPath} with file_metadata {metadata} and field1_param {field1}").ConfigureAwait(false);
        LogStart(context.Logger, context.LocalPath, field1);

        var rows = 0L;
        using var reader = new StreamReader(context.LocalPath);
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            var values = line.Split(',');
            var row = string.Join(", ", Columns.Select((c, i) => $"{c}={(i < values.Length ? values[i] : "")}"));
            await context.Output.WriteLineAsync(row).ConfigureAwait(false);
            LogRow(context.Logger, row);
            rows++;
        }

        await context.Progress.ReportCommittedAsync(rows).ConfigureAwait(false);
    }

    [LoggerMessage(1, LogLevel.Information, "Example processor: file {LocalPath}, field1_param {Field1Param}")]
    private static partial void LogStart(ILogger logger, string localPath, object? field1Param);

    [LoggerMessage(2, LogLevel.Information, "Example processor row: {Row}")]
    private static partial void LogRow(ILogger logger, string row);
}
