namespace Orleans.CastIron.Redis;

/// <summary>
/// Cast Iron's cluster on Redis (section <c>CastIron:Cluster</c>): set <see cref="Redis"/> and silos find each other,
/// keep grain state and reminders, and share the jobs' timers there.
/// </summary>
public sealed class RedisClusterOptions
{
    /// <summary>
    /// StackExchange.Redis connection string (<c>redis:6379</c>, <c>host:port,password=...,ssl=true</c>); also
    /// <c>CASTIRON_REDIS</c>. Empty: the embedded default (one silo on localhost, state in files).
    /// </summary>
    public string? Redis { get; set; }

    /// <summary>Silos with the same cluster id form one cluster (<c>CASTIRON_CLUSTER_ID</c>). Default <c>castiron</c>.</summary>
    public string ClusterId { get; set; } = "castiron";

    /// <summary>Grain state and reminders belong to the service id, across deployments (<c>CASTIRON_SERVICE_ID</c>). Default <c>castiron</c>.</summary>
    public string ServiceId { get; set; } = "castiron";

    /// <summary>
    /// The address other silos reach this one at (<c>CASTIRON_ADVERTISED_ADDRESS</c>): an IP or a host name resolved at
    /// start. Default: this machine's first non-loopback IPv4 address (a container's own address).
    /// </summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>True when a Redis connection string is set.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(Redis) && !string.Equals(Redis.Trim(), "UNSET", StringComparison.OrdinalIgnoreCase);

    /// <summary>Problems with these settings, each naming the setting.</summary>
    public IEnumerable<string> Validate()
    {
        if (!Enabled)
        {
            yield break;
        }

        string? parseError = null;
        try
        {
            _ = StackExchange.Redis.ConfigurationOptions.Parse(Redis!);
        }
        catch (ArgumentException ex)
        {
            parseError = ex.Message;
        }

        if (parseError is not null)
        {
            yield return $"CastIron:Cluster:Redis (CASTIRON_REDIS) is not a Redis connection string: {parseError}";
        }

        if (string.IsNullOrWhiteSpace(ClusterId))
        {
            yield return "CastIron:Cluster:ClusterId (CASTIRON_CLUSTER_ID) must not be empty";
        }

        if (string.IsNullOrWhiteSpace(ServiceId))
        {
            yield return "CastIron:Cluster:ServiceId (CASTIRON_SERVICE_ID) must not be empty";
        }

        if (!string.IsNullOrWhiteSpace(AdvertisedAddress) && !System.Net.IPAddress.TryParse(AdvertisedAddress, out _))
        {
            string? problem = null;
            try
            {
                if (!System.Net.Dns.GetHostAddresses(AdvertisedAddress).Any(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork))
                {
                    problem = "it has no IPv4 address";
                }
            }
            catch (System.Net.Sockets.SocketException ex)
            {
                problem = ex.Message;
            }

            if (problem is not null)
            {
                yield return $"CastIron:Cluster:AdvertisedAddress (CASTIRON_ADVERTISED_ADDRESS) '{AdvertisedAddress}' cannot be resolved: {problem}";
            }
        }
    }
}
