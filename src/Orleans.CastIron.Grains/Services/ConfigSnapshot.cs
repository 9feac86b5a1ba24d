using Microsoft.Extensions.Options;
using Orleans.CastIron.Matching;

namespace Orleans.CastIron.Grains.Services;

/// <summary>The registered configs of the bucket at one registry version, compiled for matching.</summary>
public sealed class ConfigSnapshot
{
    /// <summary>Before the registry was first read.</summary>
    public static readonly ConfigSnapshot Empty = new(new RegistrySnapshot(-1, []));

    public ConfigSnapshot(RegistrySnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        Version = snapshot.Version;
        Configs = snapshot.Configs;
        Processors = [.. snapshot.Configs
            .Where(c => c.Registered && c.Config is not null)
            .Select(c => new RegisteredProcessor(c.ConfigKey, c.Config!, c.RegistrationOrder))];
    }

    /// <summary>The registry version this snapshot shows.</summary>
    public long Version { get; }

    /// <summary>Every known config, registered or not.</summary>
    public ImmutableArray<RegisteredConfig> Configs { get; }

    /// <summary>The registered processors.</summary>
    public ImmutableArray<RegisteredProcessor> Processors { get; }

    /// <summary>The processor that takes <paramref name="fileKey"/>, or <see langword="null"/>.</summary>
    public RegisteredProcessor? Match(string fileKey, string? contentType, bool matchContentType) =>
        ProcessorMatcher.Match(fileKey, Processors, contentType, matchContentType);

    /// <summary>The best config whose inbox holds <paramref name="fileKey"/>, or <see langword="null"/> when the file is in no registered inbox.</summary>
    public RegisteredProcessor? InboxOwner(string fileKey) =>
        ProcessorMatcher.InboxOwners(fileKey, Processors) is [var owner, ..] ? owner : null;
}

/// <summary>
/// This silo's copy of the registry's configs, so intake and FileJobs match without calling the one registry grain
/// per bucket. It follows the registry with a long poll (<see cref="IProcessorRegistryGrain.WaitForChangeAsync"/>):
/// a change reaches every silo within one round trip, and callers that know a newer version can wait for it.
/// </summary>
public sealed partial class ConfigSnapshotCache(IGrainFactory grains, IOptions<CastIronOptions> options, ILogger<ConfigSnapshotCache> logger)
{
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private readonly Lock _apply = new();
    private volatile ConfigSnapshot _current = ConfigSnapshot.Empty;

    /// <summary>The latest snapshot.</summary>
    public ConfigSnapshot Current => _current;

    private IProcessorRegistryGrain Registry => grains.GetGrain<IProcessorRegistryGrain>(options.Value.Bucket);

    /// <summary>A snapshot at least as new as <paramref name="version"/> (fetched when this silo's is older).</summary>
    public async ValueTask<ConfigSnapshot> AtLeastAsync(long version)
    {
        if (_current.Version >= version)
        {
            return _current;
        }

        await RefreshAsync().ConfigureAwait(false);
        return _current;
    }

    /// <summary>Reads the registry now.</summary>
    public async Task RefreshAsync()
    {
        await _refresh.WaitAsync().ConfigureAwait(false);
        try
        {
            Apply(await Registry.GetSnapshotAsync().ConfigureAwait(false));
        }
        finally
        {
            _refresh.Release();
        }
    }

    /// <summary>Follows the registry until <paramref name="stopping"/>.</summary>
    public async Task FollowAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                Apply(await Registry.WaitForChangeAsync(_current.Version).WaitAsync(stopping).ConfigureAwait(false));
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogFollowFailed(ex);
                await Task.Delay(TimeSpan.FromSeconds(1), stopping).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private void Apply(RegistrySnapshot snapshot)
    {
        // The follower and a refresh can apply at once: without the lock an older snapshot could replace a newer one
        // after both checked (a deleted config would then still take drops until the next change).
        lock (_apply)
        {
            if (snapshot.Version > _current.Version)
            {
                _current = new ConfigSnapshot(snapshot);
            }
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "Following the processor registry failed; retrying")]
    private partial void LogFollowFailed(Exception exception);
}
