using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Options;
using Orleans.CastIron.Storage.S3;
using Orleans.CastIron.Storage.S3.Providers;
using Orleans.Runtime;

namespace Orleans.Hosting;

/// <summary>Registers the S3 / MinIO object store.</summary>
public static class S3ServiceCollectionExtensions
{
    /// <summary>
    /// Uses an S3 server as object store for <paramref name="bucket"/>, with its start-up (wait for the server, create
    /// the bucket, register the notification) and reconciliation as event source. Call it before
    /// <c>AddCastIronLocalFolder</c>, which then provides only grain state, status and timers. Options are validated at
    /// start, naming the seed variable of each problem.
    /// </summary>
    public static IServiceCollection AddCastIronS3(this IServiceCollection services, string bucket, Action<S3StorageOptions>? configure = null)
    {
        var builder = services.AddOptions<S3StorageOptions>();
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        builder.ValidateOnStart();
        services.AddSingleton<IValidateOptions<S3StorageOptions>>(new DescribedOptionsValidator<S3StorageOptions>(o => o.Enabled ? o.Validate() : ["CastIron:S3:Host (MINIO_HOST) must be set to use the S3 store"]));
        services.TryAddSingleton(sp => new S3ObjectStore(sp.GetRequiredService<IOptions<S3StorageOptions>>().Value, sp.GetService<ILogger<S3ObjectStore>>()));
        services.TryAddSingleton<IObjectStore>(sp => sp.GetRequiredService<S3ObjectStore>());
        services.TryAddSingleton(sp => new S3EventSource(sp.GetRequiredService<IOptions<S3StorageOptions>>().Value, sp.GetRequiredService<ILogger<S3EventSource>>()));
        services.TryAddSingleton<IObjectEventSource>(sp => sp.GetRequiredService<S3EventSource>());
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => new S3BucketSetup(
            sp.GetRequiredService<S3ObjectStore>(),
            bucket,
            sp.GetRequiredService<IOptions<S3StorageOptions>>().Value,
            sp.GetRequiredService<ILogger<S3BucketSetup>>()));
        return services;
    }
}
