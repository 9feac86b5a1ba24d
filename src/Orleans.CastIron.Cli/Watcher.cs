using Orleans.CastIron.Client;
using Orleans.CastIron.Files;
using Spectre.Console;

namespace Orleans.CastIron.Cli;

/// <summary>
/// Follows files until each ends: a progress bar per file at a terminal, a line per change otherwise (JSON lines
/// with <c>--json</c>). Files that end Failed or Canceled get their reason and the tail of their error log, and the
/// exit code 1.
/// </summary>
internal static class Watcher
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    public static async Task<int> WatchAsync(ICastIronClient client, Output output, IReadOnlyList<(string Name, string Id)> files, bool json, CancellationToken cancellationToken)
    {
        var views = files.Select(f => new FileView(f.Name, f.Id)).ToList();
        if (output.IsTerminal && !json)
        {
            await output.Console.Progress()
                .AutoClear(false)
                .HideCompleted(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new SpinnerColumn())
                .StartAsync(async context =>
                {
                    var bars = views.ToDictionary(v => v, v => context.AddTask(Markup.Escape(v.Name), maxValue: 1.0));
                    await FollowAsync(client, views, view =>
                    {
                        var bar = bars[view];
                        bar.Description = $"{Markup.Escape(view.Name)} {Output.StatusMarkup(view.Status)}{(view.Task is { } task ? $" [grey]{Markup.Escape(task)}[/]" : "")}";
                        bar.Value = view.Progress;
                        if (view.Ended)
                        {
                            bar.StopTask();
                        }
                    }, cancellationToken);
                });
        }
        else
        {
            await FollowAsync(client, views, view =>
            {
                if (json)
                {
                    output.WriteJson(new { FileId = view.Id, view.Name, view.Status, view.Progress, view.Task }, oneLine: true);
                }
                else
                {
                    output.Out.WriteLine(FormattableString.Invariant($"{view.Name}\t{view.Id}\t{view.Status}\t{view.Progress:0%}{(view.Task is { } task ? $"\t{task}" : "")}"));
                }
            }, cancellationToken);
        }

        var failed = views.Where(v => v.Status is FileStatus.Failed or FileStatus.Canceled).ToList();
        foreach (var view in failed)
        {
            output.Error($"{view.Name} ({view.Id}) {view.Status}{(view.Reason is { } reason ? $": {reason}" : "")}");
            if (await client.ReadErrorLogTailAsync(view.Id, 4096, cancellationToken) is { Length: > 0 } log)
            {
                output.Err.WriteLine($"--- end of the error log of {view.Name} ---");
                output.Err.WriteLine(log.TrimEnd());
            }
        }

        return failed.Count > 0 ? CliApp.FileFailed : CliApp.Ok;
    }

    /// <summary>
    /// Follows every file until it has ended: its job's events for progress and task (as they happen), its status
    /// record for the status. Each change is reported once, one report at a time.
    /// </summary>
    private static async Task FollowAsync(ICastIronClient client, List<FileView> views, Action<FileView> changed, CancellationToken cancellationToken)
    {
        var gate = new Lock();
        void Report(FileView view)
        {
            lock (gate)
            {
                changed(view);
            }
        }

        await Task.WhenAll(views.Select(view => Task.Run(async () =>
        {
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var events = Task.Run(async () =>
            {
                await foreach (var update in client.WatchAsync(view.Id, cancellationToken: stop.Token))
                {
                    if (view.Apply(update.Event))
                    {
                        Report(view);
                    }
                }
            }, stop.Token);
            while (!view.Ended)
            {
                if (await client.GetFileAsync(view.Id, cancellationToken) is { } record && view.Update(record))
                {
                    Report(view);
                }

                if (!view.Ended)
                {
                    await Task.Delay(Poll, cancellationToken);
                }
            }

            // The final status is in; the events feed ends with it (its last events are shown if they came first).
            await events.WaitAsync(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await stop.CancelAsync();
        }, cancellationToken)));
    }

    private sealed class FileView(string name, string id)
    {
        private FileStatus? _seen;

        public string Name { get; } = name;

        public string Id { get; } = id;

        public FileStatus Status { get; private set; }

        public double Progress { get; private set; }

        public string? Task { get; private set; }

        public string? Reason { get; private set; }

        public bool Ended => Status.IsFinal() && _seen is not null;

        /// <summary>Takes a job event's progress or task; true when something shown changed.</summary>
        public bool Apply(Jobs.JobEvent jobEvent)
        {
            lock (this)
            {
                if (jobEvent.Progress is { } progress && !Status.IsFinal())
                {
                    Progress = Math.Clamp(progress, 0, 1);
                    return true;
                }

                if (jobEvent.Task is { } task)
                {
                    Task = task;
                    return true;
                }

                return false;
            }
        }

        public bool Update(FileStatusRecord record)
        {
            lock (this)
            {
                if (_seen == record.Status && Reason == record.Reason)
                {
                    return false;
                }

                _seen = record.Status;
                Status = record.Status;
                Reason = record.Reason;
                if (Status.IsFinal())
                {
                    Progress = 1.0;
                }

                return true;
            }
        }
    }
}
