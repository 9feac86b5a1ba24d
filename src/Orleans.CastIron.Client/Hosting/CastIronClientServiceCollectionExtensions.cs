using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Client;
using Orleans.Configuration;
using Orleans.Hosting;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

/// <summary>Registers the Cast Iron client.</summary>
public static class CastIronClientServiceCollectionExtensions
{
    /// <summary>
    /// Connects this process to a Cast Iron cluster as an Orleans client and registers <see cref="ICastIronClient"/>.
    /// Settings come from section <c>CastIron:Client</c>, with the silos' variables as fallbacks
    /// (<c>CASTIRON_REDIS</c>, <c>CASTIRON_CLUSTER_ID</c>, <c>CASTIRON_SERVICE_ID</c>, and <c>CASTIRON_GATEWAY</c>
    /// for one gateway). Bad settings throw here with every problem named; an unreachable cluster fails the host's
    /// start after <see cref="CastIronClientOptions.ConnectTimeout"/>, naming where it looked.
    /// </summary>
    public static IServiceCollection AddCastIronClient(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new CastIronClientOptions();
        configuration.GetSection("CastIron:Client").Bind(options);
        options.Redis ??= configuration["CASTIRON_REDIS"];
        options.ClusterId ??= configuration["CASTIRON_CLUSTER_ID"];
        options.ServiceId ??= configuration["CASTIRON_SERVICE_ID"];
        if (options.Gateways.Count == 0 && configuration["CASTIRON_GATEWAY"] is { Length: > 0 } gateway)
        {
            options.Gateways.Add(gateway);
        }

        if (options.Validate().ToList() is { Count: > 0 } problems)
        {
            throw new OptionsValidationException(nameof(CastIronClientOptions), typeof(CastIronClientOptions), problems);
        }

        services.AddSingleton(Microsoft.Extensions.Options.Options.Create(options));
        services.TryAddSingleton<ICastIronClient, CastIronClient>();
        services.AddOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = options.EffectiveClusterId;
                o.ServiceId = options.EffectiveServiceId;
            });
            if (options.UsesRedis)
            {
                var redis = ConfigurationOptions.Parse(options.Redis!);
                redis.AbortOnConnectFail = false;
                client.UseRedisClustering(o => o.ConfigurationOptions = redis);
            }
            else
            {
                client.UseStaticClustering([.. options.EffectiveGateways.Select(g => Resolve(CastIronClientOptions.ParseGateway(g)!))]);
            }

            client.UseConnectionRetryFilter(new ConnectRetry(options).ShouldRetryAsync);
        });
        return services;
    }

    private static IPEndPoint Resolve(DnsEndPoint gateway)
    {
        if (IPAddress.TryParse(gateway.Host, out var ip))
        {
            return new IPEndPoint(ip, gateway.Port);
        }

        var address = Dns.GetHostAddresses(gateway.Host).FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
            ?? throw new OptionsValidationException(nameof(CastIronClientOptions), typeof(CastIronClientOptions), [$"CastIron:Client:Gateways '{gateway.Host}' has no IPv4 address"]);
        return new IPEndPoint(address, gateway.Port);
    }

    /// <summary>Retries connecting (the cluster may still be starting) until the connect timeout, then lets the failure through.</summary>
    private sealed class ConnectRetry(CastIronClientOptions options)
    {
        // From the first failed attempt, not from registration: a host may be built long before it starts.
        private DateTime? _deadline;

        public async Task<bool> ShouldRetryAsync(Exception exception, CancellationToken cancellationToken)
        {
            _deadline ??= DateTime.UtcNow + options.ConnectTimeout;
            if (DateTime.UtcNow + TimeSpan.FromMilliseconds(500) >= _deadline)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
            return true;
        }
    }
}
