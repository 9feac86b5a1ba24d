using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.CastIron.Kafka;

namespace Orleans.CastIron.Silo.Observability;

/// <summary>
/// <c>/health/live</c> and <c>/health/ready</c> on ASP.NET Core health checks. Liveness (tag <c>live</c>) asks
/// nothing of Orleans or any dependency: the process answering HTTP is the answer. Readiness (tag <c>ready</c>) runs
/// every configured dependency's check in parallel, each bounded by <see cref="BoundedHealthCheck.Timeout"/>.
/// </summary>
public static class HealthRoutes
{
    public const string LivePath = "/health/live";
    public const string ReadyPath = "/health/ready";
    public const string LiveTag = "live";
    public const string ReadyTag = "ready";

    /// <summary>The configuration key of the Redis connection string whose presence adds the Redis check.</summary>
    public const string RedisKey = "Cluster:Redis";

    /// <summary>
    /// Registers the checks: <c>process</c> (live); <c>orleans</c>, <c>object-store</c>, <c>status-store</c> (ready);
    /// <c>kafka</c> when <c>CastIron:Kafka:Broker</c> is set; <c>redis</c> when <c>CastIron:Cluster:Redis</c> is set.
    /// </summary>
    /// <param name="castIron">The <c>CastIron</c> configuration section.</param>
    public static IServiceCollection AddCastIronHealthChecks(this IServiceCollection services, IConfiguration castIron)
    {
        ArgumentNullException.ThrowIfNull(castIron);
        var checks = services.AddHealthChecks()
            .AddCheck("process", () => HealthCheckResult.Healthy("serving HTTP"), [LiveTag])
            .AddCheck<OrleansMembershipHealthCheck>("orleans", tags: [ReadyTag])
            .AddCheck<ObjectStoreHealthCheck>("object-store", tags: [ReadyTag])
            .AddCheck<StatusStoreHealthCheck>("status-store", tags: [ReadyTag]);
        if (castIron.GetSection("Kafka").Get<CastIronKafkaOptions>()?.Enabled == true)
        {
            services.AddSingleton<KafkaHealthCheck>();
            checks.AddCheck<KafkaHealthCheck>("kafka", tags: [ReadyTag]);
        }

        // CASTIRON_REDIS: the cluster's Redis (membership, grain state, reminders, job timers) is pinged.
        if (castIron[RedisKey] is { Length: > 0 } redis && !string.Equals(redis.Trim(), "UNSET", StringComparison.OrdinalIgnoreCase))
        {
            services.AddSingleton(sp => new RedisHealthCheck(redis, sp));
            checks.AddCheck<RedisHealthCheck>("redis", tags: [ReadyTag]);
        }

        return services;
    }

    /// <summary>Maps <see cref="LivePath"/> and <see cref="ReadyPath"/> (no API key: probes carry none).</summary>
    public static IEndpointRouteBuilder MapHealthRoutes(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapHealthChecks(LivePath, new HealthCheckOptions
        {
            Predicate = r => r.Tags.Contains(LiveTag),
            ResponseWriter = WriteLiveAsync,
        });
        app.MapHealthChecks(ReadyPath, new HealthCheckOptions
        {
            Predicate = r => r.Tags.Contains(ReadyTag),
            ResponseWriter = WriteReadyAsync,
        });
        return app;
    }

    private static Task WriteLiveAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(report.Status == HealthStatus.Unhealthy ? """{"status":"unhealthy"}""" : """{"status":"live"}""");
    }

    /// <summary>
    /// <c>{"status": "ready" | "not ready", "checks": [{"name", "status", "reason", "duration_ms"}, ...]}</c>, checks in
    /// name order; <c>status</c> of a check is <c>healthy</c>, <c>degraded</c> or <c>unhealthy</c>.
    /// </summary>
    private static async Task WriteReadyAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        // Reasons quote names ('etl'): readable, and never HTML.
        await using var json = new Utf8JsonWriter(context.Response.Body, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        json.WriteString("status", report.Status == HealthStatus.Unhealthy ? "not ready" : "ready");
        json.WriteStartArray("checks");
        foreach (var (name, entry) in report.Entries.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            json.WriteStartObject();
            json.WriteString("name", name);
            json.WriteString("status", entry.Status.ToString().ToLowerInvariant());
            json.WriteString("reason", entry.Description ?? (entry.Exception is { } ex ? BoundedHealthCheck.Describe(ex) : null));
            json.WriteNumber("duration_ms", Math.Round(entry.Duration.TotalMilliseconds, 1));
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted);
    }
}
