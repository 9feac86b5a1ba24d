using Microsoft.Extensions.Options;
using Orleans.CastIron.Config;
using Orleans.CastIron.Files;
using Orleans.CastIron.Grains;
using Orleans.CastIron.Grains.Services;
using Orleans.CastIron.Storage;
using Orleans.Runtime;

namespace Orleans.CastIron.Silo.Services;

/// <summary>What the REST API asks of the cluster; endpoints stay free of grain logic.</summary>
public sealed class CastIronService(
    IGrainFactory grains,
    IFileStatusStore statusStore,
    MemoryJobEventFeed jobEvents,
    IntakeService intake,
    IOptions<CastIronOptions> options)
{
    private IProcessorRegistryGrain Registry => grains.GetGrain<IProcessorRegistryGrain>(options.Value.Bucket);

    /// <summary>The live status of a file by id (from its grain), or <see langword="null"/>.</summary>
    public async Task<FileStatusRecord?> GetFileAsync(string id, CancellationToken cancellationToken)
    {
        var indexed = await statusStore.GetAsync(id, cancellationToken);
        return indexed is null ? null : await grains.GetGrain<IFileJobGrain>(indexed.JobKey).GetStatusAsync() ?? indexed;
    }

    public Task<IReadOnlyList<FileStatusRecord>> QueryFilesAsync(FileStatus? status, int limit, CancellationToken cancellationToken) =>
        statusStore.QueryAsync(status, limit, cancellationToken);

    public Task<CommandResult> CancelAsync(string id, CancellationToken cancellationToken) =>
        CommandAsync(id, grain => grain.CancelAsync(null), cancellationToken);

    public Task<CommandResult> RetryAsync(string id, CancellationToken cancellationToken) =>
        CommandAsync(id, grain => grain.RetryAsync(), cancellationToken);

    public Task<System.Collections.Immutable.ImmutableArray<RegisteredConfig>> GetProcessorsAsync() => Registry.GetConfigsAsync();

    public Task<ConfigParseResult> ValidateConfigAsync(string name, string text) =>
        grains.GetGrain<IConfigValidatorGrain>(0).ValidateAsync(name, text);

    public IReadOnlyList<Jobs.JobEvent> GetJobEvents(string jobId) => jobEvents.Events(jobId);

    public bool IntakePaused => intake.IsPaused;

    public bool PauseIntake() => intake.Pause();

    public bool ResumeIntake() => intake.Resume();

    public async Task<object> GetStatusAsync(CancellationToken cancellationToken)
    {
        var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        var configs = await Registry.GetConfigsAsync();
        var jobs = new Dictionary<string, int>();
        foreach (var status in Enum.GetValues<FileStatus>())
        {
            jobs[status.ToString()] = (await statusStore.QueryAsync(status, int.MaxValue, cancellationToken)).Count;
        }

        return new
        {
            Silos = hosts.Select(h => new { Address = h.Key.ToString(), Status = h.Value.ToString() }),
            Intake = intake.IsPaused ? "paused" : "running",
            Bucket = options.Value.Bucket,
            Processors = configs.Select(c => new { c.ConfigKey, c.Registered, c.Note, Errors = c.Errors.Length }),
            Jobs = jobs,
        };
    }

    private async Task<CommandResult> CommandAsync(string id, Func<IFileJobGrain, Task<CommandResult>> command, CancellationToken cancellationToken)
    {
        var indexed = await statusStore.GetAsync(id, cancellationToken);
        return indexed is null
            ? new CommandResult(false, $"no file with id '{id}'", null)
            : await command(grains.GetGrain<IFileJobGrain>(indexed.JobKey));
    }
}
