using Orleans.CastIron.Config;
using Orleans.CastIron.Files;
using Orleans.CastIron.Grains.Services;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace Orleans.CastIron.Grains;

/// <summary>The client's way in: the same operations as the REST API, on the silo the client is connected to.</summary>
[StatelessWorker]
public sealed class CastIronApiGrain(FileCommands files, IOptions<CastIronOptions> options) : Grain, ICastIronApiGrain
{
    /// <summary>The largest page a client may ask for: one answer stays a modest message.</summary>
    public const int MaxPage = 10_000;

    public Task<FileStatusRecord?> GetFileAsync(string fileId) => files.GetAsync(fileId);

    public async Task<ImmutableArray<FileStatusRecord>> QueryFilesAsync(FileStatus? status, int limit, int offset)
    {
        if (limit is < 1 or > MaxPage)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, $"limit must be between 1 and {MaxPage}");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        return [.. await files.QueryAsync(status, limit, offset)];
    }

    public Task<CommandResult> CancelAsync(string fileId, string? reason) => files.CancelAsync(fileId, reason);

    public Task<CommandResult> RetryAsync(string fileId) => files.RetryAsync(fileId);

    public Task<ImmutableArray<RegisteredConfig>> GetProcessorsAsync() =>
        GrainFactory.GetGrain<IProcessorRegistryGrain>(options.Value.Bucket).GetConfigsAsync();

    public Task<ConfigParseResult> ValidateConfigAsync(string sourceName, string tomlText) =>
        GrainFactory.GetGrain<IConfigValidatorGrain>(0).ValidateAsync(sourceName, tomlText);
}
