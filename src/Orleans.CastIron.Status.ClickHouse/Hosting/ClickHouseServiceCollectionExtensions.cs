using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Options;
using Orleans.CastIron.Status.ClickHouse;
using Orleans.CastIron.Status.ClickHouse.Providers;
using Orleans.Runtime;

namespace Orleans.Hosting;

/// <summary>Registers the ClickHouse status store.</summary>
public static class ClickHouseServiceCollectionExtensions
{
    /// <summary>
    /// Keeps file status in ClickHouse (the seed's <c>rubicon.cast_iron_file_status</c>) instead of the local index.
    /// Call it before <c>AddCastIronLocalFolder</c>. Options are validated at start, naming the seed variables.
    /// </summary>
    public static IServiceCollection AddCastIronClickHouse(this IServiceCollection services, Action<ClickHouseStatusOptions>? configure = null)
    {
        var builder = services.AddOptions<ClickHouseStatusOptions>();
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        builder.ValidateOnStart();
        services.AddSingleton<IValidateOptions<ClickHouseStatusOptions>>(new DescribedOptionsValidator<ClickHouseStatusOptions>(o => o.Enabled ? o.Validate() : ["CastIron:ClickHouse:Host and Port (CLICKHOUSE_HOST, CLICKHOUSE_PORT) must be set to keep status in ClickHouse"]));
        services.TryAddSingleton(sp => new ClickHouseFileStatusStore(sp.GetRequiredService<IOptions<ClickHouseStatusOptions>>().Value, sp.GetService<ILogger<ClickHouseFileStatusStore>>()));
        services.TryAddSingleton<IFileStatusStore>(sp => sp.GetRequiredService<ClickHouseFileStatusStore>());
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<ClickHouseFileStatusStore>());
        return services;
    }
}
