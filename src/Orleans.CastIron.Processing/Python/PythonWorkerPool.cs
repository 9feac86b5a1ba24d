using Microsoft.Extensions.Options;

namespace Orleans.CastIron.Processing.Python;

/// <summary>
/// The silo's warm Python workers, in pools by key (one per processor config, one for payload handlers): a worker is
/// rented for one request and given back warm, so modules are imported once per worker, not once per file. Busy and
/// warm workers together stay within <see cref="PythonOptions.MaxWorkers"/>: a new worker replaces the longest-idle
/// one of another pool when the silo is full, and waits when every worker is busy. Each pool's size follows its
/// demand, which the job runner bounds by the config's <c>max_concurrency</c>.
/// </summary>
public sealed partial class PythonWorkerPool : IAsyncDisposable
{
    private readonly PythonOptions _options;
    private readonly string _workingDirectory;
    private readonly ILogger<PythonWorkerPool> _logger;
    private readonly SemaphoreSlim _busy;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Stack<PythonWorker>> _idle = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _disposed = new();
    private readonly Task _reaper;
    private int _idleCount;

    public PythonWorkerPool(IOptions<PythonOptions> options, IOptions<ProcessingOptions> processing, ILogger<PythonWorkerPool> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(processing);
        _options = options.Value;
        _logger = logger;
        MaxWorkers = _options.MaxWorkers > 0 ? _options.MaxWorkers : processing.Value.MaxConcurrency + Environment.ProcessorCount;
        _busy = new SemaphoreSlim(MaxWorkers, MaxWorkers);
        _workingDirectory = processing.Value.WorkRoot;
        _reaper = Task.Run(ReapIdleAsync, CancellationToken.None);
    }

    /// <summary>Workers this silo runs at most.</summary>
    public int MaxWorkers { get; }

    /// <summary>Warm workers waiting for a request.</summary>
    public int IdleCount
    {
        get
        {
            lock (_lock)
            {
                return _idleCount;
            }
        }
    }

    /// <summary>Workers started since the silo started (a warm pool starts few).</summary>
    public int Started => Volatile.Read(ref _started);

    private int _started;

    /// <summary>
    /// Runs <paramref name="use"/> on a worker of pool <paramref name="key"/>: a warm one, or a new one. The worker is
    /// given back warm unless it broke (killed at a timeout or cancel, crashed, too big), served its
    /// <see cref="PythonOptions.MaxRequestsPerWorker"/>, or <paramref name="use"/> said to retire it.
    /// </summary>
    internal async Task<T> RunAsync<T>(string key, Func<PythonWorker, Task<(T Result, bool Retire)>> use, CancellationToken cancellationToken)
    {
        await _busy.WaitAsync(cancellationToken).ConfigureAwait(false);
        PythonWorker? worker = null;
        var retire = true;
        try
        {
            worker = TakeIdle(key) ?? await StartAsync(key, cancellationToken).ConfigureAwait(false);
            (var result, retire) = await use(worker).ConfigureAwait(false);
            return result;
        }
        finally
        {
            if (worker is not null)
            {
                await GiveBackAsync(worker, retire).ConfigureAwait(false);
            }

            _busy.Release();
        }
    }

    private PythonWorker? TakeIdle(string key)
    {
        lock (_lock)
        {
            if (_idle.TryGetValue(key, out var stack))
            {
                while (stack.TryPop(out var worker))
                {
                    _idleCount--;
                    if (!worker.IsBroken)
                    {
                        return worker;
                    }

                    _ = worker.DisposeAsync().AsTask();
                }
            }
        }

        return null;
    }

    private async Task<PythonWorker> StartAsync(string key, CancellationToken cancellationToken)
    {
        // Room for one more: busy workers hold the semaphore, so evicting idle ones of other pools is enough.
        PythonWorker? evicted = null;
        lock (_lock)
        {
            if (_idleCount + (MaxWorkers - _busy.CurrentCount) > MaxWorkers)
            {
                evicted = _idle.Values.SelectMany(s => s).OrderBy(w => w.IdleSince).FirstOrDefault();
                if (evicted is not null)
                {
                    Remove(evicted);
                }
            }
        }

        if (evicted is not null)
        {
            LogEvicted(evicted.Pid, evicted.Key, key);
            await evicted.DisposeAsync().ConfigureAwait(false);
        }

        Directory.CreateDirectory(_workingDirectory);
        var worker = await PythonWorker.StartAsync(key, _options, _workingDirectory, _logger, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _started);
        return worker;
    }

    private async Task GiveBackAsync(PythonWorker worker, bool retire)
    {
        var limit = _options.MaxRequestsPerWorker;
        if (retire || worker.IsBroken || _disposed.IsCancellationRequested || (limit > 0 && worker.Requests >= limit))
        {
            await worker.DisposeAsync().ConfigureAwait(false);
            return;
        }

        worker.IdleSince = Environment.TickCount64;
        lock (_lock)
        {
            if (!_idle.TryGetValue(worker.Key, out var stack))
            {
                _idle[worker.Key] = stack = new Stack<PythonWorker>();
            }

            stack.Push(worker);
            _idleCount++;
        }
    }

    private void Remove(PythonWorker worker)
    {
        var stack = _idle[worker.Key];
        var rest = stack.Where(w => w != worker).Reverse().ToList();
        stack.Clear();
        foreach (var w in rest)
        {
            stack.Push(w);
        }

        _idleCount--;
    }

    private async Task ReapIdleAsync()
    {
        var every = TimeSpan.FromTicks(Math.Clamp(_options.IdleTimeout.Ticks / 4, TimeSpan.TicksPerSecond, TimeSpan.TicksPerMinute));
        using var timer = new PeriodicTimer(every);
        try
        {
            while (await timer.WaitForNextTickAsync(_disposed.Token).ConfigureAwait(false))
            {
                var expired = new List<PythonWorker>();
                var now = Environment.TickCount64;
                lock (_lock)
                {
                    foreach (var worker in _idle.Values.SelectMany(s => s).ToList())
                    {
                        if (worker.IsBroken || now - worker.IdleSince >= (long)_options.IdleTimeout.TotalMilliseconds)
                        {
                            Remove(worker);
                            expired.Add(worker);
                        }
                    }
                }

                foreach (var worker in expired)
                {
                    await worker.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Stops every warm worker (busy ones are stopped by their requests' cancellation).</summary>
    public async ValueTask DisposeAsync()
    {
        await _disposed.CancelAsync().ConfigureAwait(false);
        await _reaper.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        List<PythonWorker> all;
        lock (_lock)
        {
            all = [.. _idle.Values.SelectMany(s => s)];
            _idle.Clear();
            _idleCount = 0;
        }

        await Task.WhenAll(all.Select(w => w.DisposeAsync().AsTask())).ConfigureAwait(false);
        _disposed.Dispose();
    }

    [LoggerMessage(10, LogLevel.Debug, "Stopped idle Python worker {Pid} of {Pool} to make room for {NewPool}")]
    private partial void LogEvicted(int pid, string pool, string newPool);
}
