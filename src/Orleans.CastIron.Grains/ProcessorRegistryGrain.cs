using Orleans.CastIron.Grains.State;
using Orleans.CastIron.Matching;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace Orleans.CastIron.Grains;

/// <summary>See <see cref="IProcessorRegistryGrain"/>. Grain key = bucket.</summary>
internal sealed partial class ProcessorRegistryGrain(
    [PersistentState("registry", CastIronNames.GrainStorage)] IPersistentState<RegistryState> state,
    IObjectStore store,
    IJobEventSink jobEvents,
    Services.IntakeService intake,
    TimeProvider time,
    Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime,
    Microsoft.Extensions.Options.IOptions<CastIronOptions> options,
    ILogger<ProcessorRegistryGrain> logger) : Grain, IProcessorRegistryGrain
{
    private static readonly TimeSpan LongPoll = TimeSpan.FromSeconds(20);

    private ImmutableArray<RegisteredProcessor> _processors = [];
    private TaskCompletionSource<RegistrySnapshot> _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private string Bucket => this.GetPrimaryKeyString();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        RebuildMatcher();
        return Task.CompletedTask;
    }

    async Task IProcessorRegistryGrain.RescanAsync(ImmutableDictionary<string, string> present, DateTimeOffset? listedSince)
    {
        var version = state.State.Version;
        // Registered after the listing began (allowing for clocks a little apart): the listing may have passed it.
        var keepFrom = listedSince - TimeSpan.FromSeconds(5);
        foreach (var (key, known) in state.State.Configs.Where(c => !present.ContainsKey(c.Key)).ToList())
        {
            if (keepFrom is null || known.UpdatedAt < keepFrom)
            {
                await RemoveAsync(key);
            }
        }

        // Entries read under the other setting would keep their old verdict until their object changed: read them again.
        var strict = options.Value.StrictConfigs;
        var reread = state.State.StrictConfigs != strict;
        foreach (var (key, etag) in present.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (reread || !state.State.Configs.TryGetValue(key, out var known) || known.ETag != etag)
            {
                await LoadAsync(key);
            }
        }

        if (reread)
        {
            state.State.StrictConfigs = strict;
            await state.WriteStateAsync();
        }

        // Periodic rescans that change nothing stay out of the Information log.
        LogRescanned(state.State.Version != version || listedSince is null ? LogLevel.Information : LogLevel.Debug, Bucket, state.State.Configs.Count, _processors.Length);
    }

    Task IProcessorRegistryGrain.ConfigChangedAsync(string configKey) => LoadAsync(configKey);

    Task IProcessorRegistryGrain.ConfigRemovedAsync(string configKey) => RemoveAsync(configKey);

    Task<ImmutableArray<RegisteredConfig>> IProcessorRegistryGrain.GetConfigsAsync() =>
        Task.FromResult(state.State.Configs.Values.OrderBy(c => c.ConfigKey, StringComparer.Ordinal).ToImmutableArray());

    Task<RegistrySnapshot> IProcessorRegistryGrain.GetSnapshotAsync() => Task.FromResult(Snapshot());

    async Task<RegistrySnapshot> IProcessorRegistryGrain.WaitForChangeAsync(long knownVersion)
    {
        if (state.State.Version != knownVersion)
        {
            return Snapshot();
        }

        var changed = _changed.Task;
        // Kept alive by the polls of every silo; answers before Orleans' response timeout, and at once when this silo
        // stops (a poll in progress would hold the grain's deactivation, and the silo's stop, for its whole length).
        await Task.WhenAny(changed, Task.Delay(LongPoll, time, lifetime.ApplicationStopping));
        return Snapshot();
    }

    private RegistrySnapshot Snapshot() =>
        new(state.State.Version, [.. state.State.Configs.Values.OrderBy(c => c.ConfigKey, StringComparer.Ordinal)]);

    /// <summary>Saves a change under a new version and tells the silos' caches.</summary>
    private async Task SaveAsync()
    {
        state.State.Version++;
        await state.WriteStateAsync();
        RebuildMatcher();
        var changed = _changed;
        _changed = new TaskCompletionSource<RegistrySnapshot>(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult(Snapshot());
    }

    private async Task LoadAsync(string configKey)
    {
        if (SkipRules.Route(configKey) != EventRoute.ProcessorConfig || ObjectKeys.Validate(configKey) is not null)
        {
            return;
        }

        var info = await store.StatAsync(Bucket, configKey);
        if (info is null)
        {
            await RemoveAsync(configKey);
            return;
        }

        ConfigParseResult parsed;
        if (info.Size > ProcessorConfigParser.MaxConfigBytes)
        {
            parsed = ConfigParseResult.Failure([new ConfigError(ConfigErrorCode.InvalidValue, "", 0, 0, $"the config is {info.Size} bytes; configs are limited to {ProcessorConfigParser.MaxConfigBytes} bytes")]);
        }
        else
        {
            parsed = ProcessorConfigParser.Parse(await store.ReadTextAsync(Bucket, configKey), configKey, options.Value.StrictConfigs);
        }

        state.State.Configs.TryGetValue(configKey, out var previous);
        // Once per version of the config: a repeated notification of the same object says nothing new.
        if (!parsed.Warnings.IsDefaultOrEmpty && (previous is null || previous.ETag != info.ETag || previous.Warnings.IsDefault || !previous.Warnings.SequenceEqual(parsed.Warnings)))
        {
            LogConfigWarnings(configKey, parsed.Warnings.Length, string.Join("; ", parsed.Warnings));
        }

        var entry = new RegisteredConfig
        {
            ConfigKey = configKey,
            Config = parsed.Config,
            Errors = parsed.Errors,
            Warnings = parsed.Warnings,
            ETag = info.ETag,
            UpdatedAt = time.GetUtcNow(),
            RegistrationOrder = previous?.RegistrationOrder ?? 0,
        };

        if (!parsed.IsValid)
        {
            entry = entry with { Registered = false, Note = $"invalid: {parsed.Errors.Length} error(s)" };
            LogInvalidConfig(configKey, string.Join("; ", parsed.Errors));
            await jobEvents.PublishAsync(JobEvent.ConfigErrors(configKey, parsed.Errors.Select(e => e.ToString())));
        }
        else if (!parsed.Config!.Enabled)
        {
            entry = entry with { Registered = false, Note = "disabled (enabled = false)" };
            LogDisabledConfig(configKey);
        }
        else if (OwningStageFolder(configKey) is { } owner)
        {
            // A .toml dropped into another config's stage folder is data, not a processor (seed bug B-16).
            entry = entry with { Registered = false, Note = $"ignored: it lies in a stage folder of '{owner}'" };
            LogConfigInStageFolder(configKey, owner);
        }
        else if (StageFolderConflicts.Find(new StagePaths(configKey, parsed.Config), Others(configKey)) is [_, ..] conflicts)
        {
            // A folder that is one config's output and another's input would send files round forever.
            var errors = conflicts.Select(c => new ConfigError(ConfigErrorCode.InvalidValue, "castiron.etl", 0, 0, c)).ToImmutableArray();
            entry = entry with { Registered = false, Errors = errors, Note = $"refused: {string.Join("; ", conflicts)}" };
            LogStageConflict(configKey, string.Join("; ", conflicts));
            await jobEvents.PublishAsync(JobEvent.ConfigErrors(configKey, errors.Select(e => e.ToString())));
        }
        else
        {
            if (entry.RegistrationOrder == 0)
            {
                entry = entry with { RegistrationOrder = ++state.State.NextRegistrationOrder };
            }

            var sharing = StageFolderConflicts.SharingInbox(new StagePaths(configKey, parsed.Config), Others(configKey)).Select(p => p.ConfigKey).ToList();
            var note = sharing.Count == 0
                ? null
                : $"shares its inbox with {string.Join(", ", sharing.Select(k => $"'{k}'"))}: a file both match goes to the deepest config, then the first registered";
            if (note is not null)
            {
                LogSharedInbox(configKey, note);
            }

            entry = entry with { Registered = true, Note = note };
        }

        state.State.Configs[configKey] = entry;
        await SaveAsync();

        if (entry.Registered)
        {
            LogRegistered(configKey, entry.Config!.Kind);
            var paths = new StagePaths(configKey, entry.Config);
            foreach (var folder in paths.AllFolders)
            {
                await EnsureFolderAsync(folder);
            }

            // Outside this grain's turn, in bounded batches, once every silo's cache has the new version.
            intake.WakeInbox(Bucket, paths.InboxFolder, state.State.Version);
        }
    }

    private async Task RemoveAsync(string configKey)
    {
        if (state.State.Configs.Remove(configKey))
        {
            await SaveAsync();
            LogUnregistered(configKey);
        }
    }

    private IEnumerable<StagePaths> Others(string configKey) =>
        _processors.Where(p => p.ConfigKey != configKey).Select(p => p.Paths);

    private string? OwningStageFolder(string configKey) =>
        _processors.FirstOrDefault(p => p.ConfigKey != configKey && p.Paths.IsInsideStageFolder(configKey))?.ConfigKey;

    private async Task EnsureFolderAsync(string folder)
    {
        var keep = ObjectKeys.Combine(folder, SkipRules.KeepFileName);
        if (await store.StatAsync(Bucket, keep) is null)
        {
            await store.WriteTextAsync(Bucket, keep, "");
        }
    }

    private void RebuildMatcher() =>
        _processors = [.. state.State.Configs.Values
            .Where(c => c.Registered && c.Config is not null)
            .Select(c => new RegisteredProcessor(c.ConfigKey, c.Config!, c.RegistrationOrder))];

    [LoggerMessage(1, LogLevel.Information, "Registered processor config '{ConfigKey}' ({Kind})")]
    private partial void LogRegistered(string configKey, ProcessorKind kind);

    [LoggerMessage(2, LogLevel.Warning, "Processor config '{ConfigKey}' is invalid and not registered: {Errors}")]
    private partial void LogInvalidConfig(string configKey, string errors);

    [LoggerMessage(3, LogLevel.Information, "Processor config '{ConfigKey}' is disabled and not registered")]
    private partial void LogDisabledConfig(string configKey);

    [LoggerMessage(4, LogLevel.Information, "Processor config '{ConfigKey}' unregistered")]
    private partial void LogUnregistered(string configKey);

    [LoggerMessage(5, LogLevel.Warning, "'{ConfigKey}' lies in a stage folder of '{Owner}' and is not registered")]
    private partial void LogConfigInStageFolder(string configKey, string owner);

    [LoggerMessage(7, LogLevel.Error, "Processor config '{ConfigKey}' is refused: {Conflicts}")]
    private partial void LogStageConflict(string configKey, string conflicts);

    [LoggerMessage(8, LogLevel.Warning, "Processor config '{ConfigKey}' is registered, but it {Note}")]
    private partial void LogSharedInbox(string configKey, string note);

    [LoggerMessage(9, LogLevel.Warning, "Processor config '{ConfigKey}' uses {Count} form(s) only the seed's lenient reading accepted; it loads as the seed read them (CastIron:StrictConfigs=true would refuse them): {Warnings}")]
    private partial void LogConfigWarnings(string configKey, int count, string warnings);

    [LoggerMessage(EventId = 6, Message = "Bucket '{Bucket}' rescanned: {Known} config(s), {Registered} registered")]
    private partial void LogRescanned(LogLevel level, string bucket, int known, int registered);
}
