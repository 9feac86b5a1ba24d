using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Orleans.CastIron.Redis;
using Orleans.CastIron.Redis.Providers;
using Orleans.CastIron.Storage;
using Orleans.Configuration;
using StackExchange.Redis;

namespace Orleans.Hosting;

/// <summary>Puts a silo into a Cast Iron cluster on Redis.</summary>
public static class RedisClusterSiloBuilderExtensions
{
    /// <summary>
    /// Redis clustering (membership), Redis grain storage named <paramref name="grainStorageName"/>, Redis reminders,
    /// the jobs' timers in Redis and, unless a status store is already registered (ClickHouse: register it first), file
    /// status in Redis, for cluster <see cref="RedisClusterOptions.ClusterId"/> of service
    /// <see cref="RedisClusterOptions.ServiceId"/>: every silo reads and writes the same. The silo listens on every
    /// interface and advertises <see cref="RedisClusterOptions.AdvertisedAddress"/> (default: its first non-loopback
    /// IPv4 address). Call it before the object store registrations, whose embedded stores only stand in when none is
    /// registered.
    /// </summary>
    public static ISiloBuilder AddCastIronRedisCluster(this ISiloBuilder builder, RedisClusterOptions options, string grainStorageName, int siloPort, int gatewayPort)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate().ToList();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", problems), nameof(options));
        }

        var redis = ConfigurationOptions.Parse(options.Redis!);
        // Connections keep retrying in the background (Redis restarting mid-run); at start the host waits for Redis
        // first (RedisStartupWait), as Orleans' membership gives up after 5 s.
        redis.AbortOnConnectFail = false;
        builder.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
        });
        builder.ConfigureEndpoints(AdvertisedAddress(options.AdvertisedAddress), siloPort, gatewayPort, listenOnAnyHostAddress: true);
        builder.UseRedisClustering(o => o.ConfigurationOptions = redis.Clone());
        // Orleans' own serializer, as the embedded file storage: the provider's default JSON cannot read back the
        // jobs' immutable collections (every reactivation failed).
        builder.AddRedisGrainStorage(grainStorageName, ob => ob.Configure<Orleans.Serialization.Serializer>((o, serializer) =>
        {
            o.ConfigurationOptions = redis.Clone();
            o.GrainStorageSerializer = new Orleans.Storage.OrleansGrainStorageSerializer(serializer);
        }));
        builder.UseRedisReminderService(o => o.ConfigurationOptions = redis.Clone());
        builder.Services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(redis.Clone()));
        builder.Services.AddSingleton<IJobTimerStore>(sp => new RedisJobTimerStore(sp.GetRequiredService<IConnectionMultiplexer>(), $"castiron:{options.ServiceId}"));
        builder.Services.TryAddSingleton<IFileStatusStore>(sp => new RedisFileStatusStore(sp.GetRequiredService<IConnectionMultiplexer>(), $"castiron:{options.ServiceId}"));
        return builder;
    }

    /// <summary>The configured address (an IP, or a host name resolved now), else the first non-loopback IPv4 address.</summary>
    internal static IPAddress AdvertisedAddress(string? configured)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            if (IPAddress.TryParse(configured, out var ip))
            {
                return ip;
            }

            return Dns.GetHostAddresses(configured).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
                ?? throw new ArgumentException($"CastIron:Cluster:AdvertisedAddress (CASTIRON_ADVERTISED_ADDRESS) '{configured}' has no IPv4 address");
        }

        return NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            ?? IPAddress.Loopback;
    }
}
