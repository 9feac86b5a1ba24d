using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Options;
using Orleans.CastIron.Storage.LocalFolder;
using Orleans.CastIron.Storage.LocalFolder.Providers;
using Orleans.Runtime.Hosting;
using Orleans.Storage;

namespace Orleans.Hosting;

/// <summary>Registers the embedded folder-backed adapters.</summary>
public static class LocalFolderServiceCollectionExtensions
{
    /// <summary>
    /// Uses a local folder as object store and event source for <paramref name="bucket"/>, the file status index, the
    /// job timers and file-based grain storage named <paramref name="grainStorageName"/> (none when null: a cluster keeps
    /// its state elsewhere). Each stands in only where nothing else was registered. Options are validated at start.
    /// </summary>
    public static IServiceCollection AddCastIronLocalFolder(this IServiceCollection services, string bucket, string? grainStorageName, Action<LocalFolderOptions>? configure = null)
    {
        var builder = services.AddOptions<LocalFolderOptions>();
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        builder.ValidateOnStart();
        services.AddSingleton<IValidateOptions<LocalFolderOptions>>(new DescribedOptionsValidator<LocalFolderOptions>(o => o.Validate()));
        services.TryAddSingleton<FolderObjectStore>(sp => new FolderObjectStore(sp.GetRequiredService<IOptions<LocalFolderOptions>>().Value, sp.GetService<TimeProvider>(), sp.GetService<ILogger<FolderObjectStore>>()));
        services.TryAddSingleton<IObjectStore>(sp => sp.GetRequiredService<FolderObjectStore>());
        services.TryAddSingleton<IObjectEventSource>(sp => new FolderObjectEventSource(
            sp.GetRequiredService<FolderObjectStore>(),
            bucket,
            sp.GetRequiredService<IOptions<LocalFolderOptions>>().Value,
            sp.GetRequiredService<ILogger<FolderObjectEventSource>>(),
            sp.GetService<TimeProvider>()));
        services.TryAddSingleton<IFileStatusStore>(sp => new FolderFileStatusStore(SystemPath(sp, "status")));
        services.TryAddSingleton<IJobTimerStore>(sp => new FolderJobTimerStore(SystemPath(sp, "timers")));
        if (grainStorageName is not null)
        {
            services.AddGrainStorage(grainStorageName, (sp, name) =>
                new FileGrainStorage(name, SystemPath(sp, "state"), new OrleansGrainStorageSerializer(sp.GetRequiredService<Orleans.Serialization.Serializer>())));
        }

        return services;
    }

    private static string SystemPath(IServiceProvider services, string leaf)
    {
        var options = services.GetRequiredService<IOptions<LocalFolderOptions>>().Value;
        return Path.Combine(Path.GetFullPath(options.RootPath), LocalFolderOptions.SystemFolderName, leaf);
    }
}
