using Orleans.CastIron.Processing;

namespace Orleans.CastIron.TestPlugin;

/// <summary>Writes the file's content in upper case to the processor output; fails on empty files.</summary>
[FileProcessor("plugin.uppercase")]
public sealed class UppercaseProcessor : IFileProcessor
{
    public async Task ProcessAsync(FileJobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var text = await File.ReadAllTextAsync(context.LocalPath, cancellationToken);
        if (text.Length == 0)
        {
            throw new InvalidDataException("empty file");
        }

        await context.Output.WriteLineAsync(text.ToUpperInvariant());
        await context.Progress.ReportTaskAsync("uppercased by a plugin");
    }
}
