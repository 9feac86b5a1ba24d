using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Orleans.CastIron.Telemetry;

namespace Orleans.CastIron.Silo.Observability;

/// <summary>
/// Health checks, and OpenTelemetry metrics and traces exported over OTLP when an endpoint is configured
/// (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>, or <c>CastIron:Telemetry:OtlpEndpoint</c>). Without one nothing listens to
/// the instruments or activity sources, so nothing is recorded, exported or slowed down.
/// </summary>
public static class TelemetrySetup
{
    /// <summary>Orleans' own meter (grain calls, messaging, membership, ...).</summary>
    public const string OrleansMeter = "Microsoft.Orleans";

    /// <summary>Orleans' activity sources: grain calls into the runtime's and the application's grains.</summary>
    public static readonly string[] OrleansActivitySources = ["Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application"];

    /// <summary>The service name reported unless <c>OTEL_SERVICE_NAME</c> says otherwise.</summary>
    public const string DefaultServiceName = "orleans-castiron";

    /// <summary>
    /// Adds the health checks (<see cref="HealthRoutes.AddCastIronHealthChecks"/>) and, with an OTLP endpoint,
    /// OpenTelemetry: metrics of <see cref="CastIronTelemetry.Name"/> and <see cref="OrleansMeter"/>, traces of
    /// <see cref="CastIronTelemetry.Name"/> and Orleans' grain calls (with trace context carried through grain calls).
    /// </summary>
    /// <param name="castIron">The <c>CastIron</c> configuration section.</param>
    public static WebApplicationBuilder AddCastIronObservability(this WebApplicationBuilder builder, IConfiguration castIron)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(castIron);
        builder.Services.AddCastIronHealthChecks(castIron);
        if (OtlpExport(builder.Configuration, castIron) is not { } export)
        {
            return builder;
        }

        // Trace context through grain calls: intake → FileJob → attempt → FileJob → final move in one trace.
        builder.UseOrleans(silo => silo.AddActivityPropagation());
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource =>
            {
                if (string.IsNullOrWhiteSpace(builder.Configuration["OTEL_SERVICE_NAME"]))
                {
                    resource.AddService(DefaultServiceName);
                }
            })
            .WithMetrics(metrics => metrics.AddMeter(CastIronTelemetry.Name, OrleansMeter))
            .WithTracing(tracing => tracing.AddSource([CastIronTelemetry.Name, .. OrleansActivitySources]));
        if (export.Endpoint is { } endpoint)
        {
            otel.UseOtlpExporter(export.Protocol, endpoint);
        }
        else
        {
            // The standard OTEL_EXPORTER_OTLP_* variables, read by the exporter itself.
            otel.UseOtlpExporter();
        }

        return builder;
    }

    /// <summary>
    /// Where to export: <c>CastIron:Telemetry:OtlpEndpoint</c> (with <c>CastIron:Telemetry:OtlpProtocol</c>,
    /// <c>grpc</c> by default), else the exporter's own <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> (Endpoint null); null: no export.
    /// </summary>
    /// <exception cref="InvalidSettingException">The endpoint is not an absolute http(s) URI, or the protocol is unknown.</exception>
    public static OtlpExportSettings? OtlpExport(IConfiguration configuration, IConfiguration castIron)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(castIron);
        var telemetry = castIron.GetSection("Telemetry");
        var protocol = telemetry["OtlpProtocol"] switch
        {
            null or "" or "grpc" => OtlpExportProtocol.Grpc,
            "http/protobuf" => OtlpExportProtocol.HttpProtobuf,
            var other => throw new InvalidSettingException($"CastIron:Telemetry:OtlpProtocol '{other}' is not 'grpc' or 'http/protobuf'"),
        };
        if (telemetry["OtlpEndpoint"] is { Length: > 0 } configured)
        {
            if (!Uri.TryCreate(configured, UriKind.Absolute, out var endpoint) || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
            {
                throw new InvalidSettingException($"CastIron:Telemetry:OtlpEndpoint '{configured}' is not an absolute http:// or https:// URI");
            }

            return new OtlpExportSettings(endpoint, protocol);
        }

        return string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]) ? null : new OtlpExportSettings(null, protocol);
    }
}

/// <summary>Where telemetry goes: <paramref name="Endpoint"/> null means the standard <c>OTEL_EXPORTER_OTLP_*</c> variables.</summary>
public sealed record OtlpExportSettings(Uri? Endpoint, OtlpExportProtocol Protocol);
