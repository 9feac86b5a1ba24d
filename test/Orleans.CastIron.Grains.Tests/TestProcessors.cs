using System.Collections.Concurrent;
using Orleans.CastIron.Processing;

namespace Orleans.CastIron.Grains.Tests;

/// <summary>Processors the tests configure by name; they record what they saw.</summary>
public static class TestProcessors
{
    public static readonly ConcurrentDictionary<string, int> Calls = new();
    public static readonly ConcurrentDictionary<string, FileJobContext> Contexts = new();
    public static readonly ConcurrentDictionary<string, TaskCompletionSource> Started = new();
    public static readonly ConcurrentDictionary<string, TaskCompletionSource> Release = new();

    public static TaskCompletionSource StartedSignal(string originalName) =>
        Started.GetOrAdd(originalName, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    public static TaskCompletionSource ReleaseSignal(string originalName) =>
        Release.GetOrAdd(originalName, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    public static int Record(FileJobContext context)
    {
        Contexts[context.FileId] = context;
        return Calls.AddOrUpdate(context.FileId, 1, (_, n) => n + 1);
    }
}

[FileProcessor("test.succeed")]
public sealed class SucceedProcessor : IFileProcessor
{
    public async Task ProcessAsync(FileJobContext context, CancellationToken cancellationToken)
    {
        TestProcessors.Record(context);
        await context.Progress.ReportTaskAsync("reading");
        await context.Progress.ReportProgressAsync(0.5);
        await context.Progress.ReportProgressAsync(7); // out of range: ignored
        await context.Progress.ReportCommittedAsync(File.ReadAllLines(context.LocalPath).Length);
    }
}

[FileProcessor("test.fail")]
public sealed class FailProcessor : IFileProcessor
{
    public async Task ProcessAsync(FileJobContext context, CancellationToken cancellationToken)
    {
        TestProcessors.Record(context);
        await context.Output.WriteLineAsync("about to fail on purpose");
        throw new InvalidOperationException("boom from test processor");
    }
}

/// <summary>Fails while the attempt number is below <c>succeed_on_attempt</c>.</summary>
[FileProcessor("test.flaky")]
public sealed class FlakyProcessor : IFileProcessor
{
    public Task ProcessAsync(FileJobContext context, CancellationToken cancellationToken)
    {
        TestProcessors.Record(context);
        var succeedOn = Convert.ToInt32(context.Arguments["succeed_on_attempt"], System.Globalization.CultureInfo.InvariantCulture);
        return context.Attempt < succeedOn
            ? throw new IOException($"transient failure on attempt {context.Attempt}")
            : Task.CompletedTask;
    }
}

/// <summary>Signals that it started, then waits for release or cancellation.</summary>
[FileProcessor("test.block")]
public sealed class BlockProcessor : IFileProcessor
{
    public async Task ProcessAsync(FileJobContext context, CancellationToken cancellationToken)
    {
        TestProcessors.Record(context);
        TestProcessors.StartedSignal(context.OriginalFilename).TrySetResult();
        await TestProcessors.ReleaseSignal(context.OriginalFilename).Task.WaitAsync(cancellationToken);
    }
}

[FileProcessor("test.noop")]
public sealed class NoopProcessor : IFileProcessor
{
    public Task ProcessAsync(FileJobContext context, CancellationToken cancellationToken)
    {
        TestProcessors.Record(context);
        return Task.CompletedTask;
    }
}

/// <summary>A .NET class named the seed's way (<c>worker_class.worker_run_method</c>) with a set-up.</summary>
[FileProcessor("tests.SetupWorker.run")]
public sealed class SetupWorkerProcessor : IFileProcessor, IFileProcessorSetup
{
    public static readonly ConcurrentDictionary<string, (string Method, IReadOnlyDictionary<string, object?> Arguments)> Setups = new();

    private (string Method, IReadOnlyDictionary<string, object?> Arguments) _setup;

    public Task SetupAsync(string method, IReadOnlyDictionary<string, object?> arguments, CancellationToken cancellationToken)
    {
        _setup = (method, arguments);
        return Task.CompletedTask;
    }

    public Task ProcessAsync(FileJobContext context, CancellationToken cancellationToken)
    {
        TestProcessors.Record(context);
        Setups[context.FileId] = _setup;
        return Task.CompletedTask;
    }
}
