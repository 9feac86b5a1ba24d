using System.Net;

namespace Orleans.CastIron.Client;

/// <summary>
/// How the client reaches the cluster (section <c>CastIron:Client</c>; the silos' own variables work too). Without
/// <see cref="Redis"/> it talks to the gateways listed in <see cref="Gateways"/> (the embedded silo's gateway is
/// <c>localhost:30000</c>); with it, it finds the gateways in Redis as the silos find each other.
/// </summary>
public sealed class CastIronClientOptions
{
    /// <summary>The embedded silo's gateway.</summary>
    public const string DefaultGateway = "localhost:30000";

    /// <summary>Gateway endpoints (<c>host:port</c>), used when <see cref="Redis"/> is not set.</summary>
    public List<string> Gateways { get; set; } = [];

    /// <summary>The cluster's Redis connection string (<c>CASTIRON_REDIS</c>), when the cluster runs on Redis.</summary>
    public string? Redis { get; set; }

    /// <summary>The cluster id (<c>CASTIRON_CLUSTER_ID</c>), as the silos have it; <c>castiron</c> by default, as theirs.</summary>
    public string? ClusterId { get; set; }

    /// <summary>The service id (<c>CASTIRON_SERVICE_ID</c>), as the silos have it; <c>castiron</c> by default.</summary>
    public string? ServiceId { get; set; }

    /// <summary>How long connecting may take before the client gives up with an error naming the endpoints.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Size of the chunks a submitted file is sent in.</summary>
    public int ChunkBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// How long a payload message sent through Kafka with its outcome awaited is waited for (it may wait behind a
    /// backlog, or a paused intake) before the result says no outcome came.
    /// </summary>
    public TimeSpan PayloadOutcomeTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>True when the cluster is found in Redis.</summary>
    public bool UsesRedis => !string.IsNullOrWhiteSpace(Redis) && !string.Equals(Redis, "UNSET", StringComparison.Ordinal);

    internal string EffectiveClusterId => string.IsNullOrWhiteSpace(ClusterId) ? "castiron" : ClusterId;

    internal string EffectiveServiceId => string.IsNullOrWhiteSpace(ServiceId) ? "castiron" : ServiceId;

    internal IReadOnlyList<string> EffectiveGateways => Gateways.Count == 0 ? [DefaultGateway] : Gateways;

    /// <summary>Everything wrong with these settings, each naming the setting.</summary>
    public IEnumerable<string> Validate()
    {
        if (!UsesRedis)
        {
            foreach (var gateway in EffectiveGateways)
            {
                if (ParseGateway(gateway) is null)
                {
                    yield return $"CastIron:Client:Gateways '{gateway}' is not host:port with a port between 1 and 65535";
                }
            }
        }

        if (ConnectTimeout <= TimeSpan.Zero)
        {
            yield return "CastIron:Client:ConnectTimeout must be positive";
        }

        if (PayloadOutcomeTimeout <= TimeSpan.Zero)
        {
            yield return "CastIron:Client:PayloadOutcomeTimeout must be positive";
        }

        if (ChunkBytes is < 4096 or > 1024 * 1024)
        {
            yield return "CastIron:Client:ChunkBytes must be between 4096 and 1048576";
        }
    }

    /// <summary>A <c>host:port</c> gateway as a DNS endpoint, or null.</summary>
    internal static DnsEndPoint? ParseGateway(string gateway)
    {
        var colon = gateway.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(gateway.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            return null;
        }

        return new DnsEndPoint(gateway[..colon].Trim('[', ']'), port);
    }
}
