using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Grains;
using Orleans.CastIron.Silo.Api;
using Orleans.CastIron.Silo.Observability;
using Orleans.CastIron.Silo.Services;
using Orleans.Dashboard;

namespace Orleans.CastIron.Silo;

/// <summary>Builds the silo host: Orleans, the REST API, the dashboard and the OpenAPI document in one process.</summary>
public static class SiloHost
{
    /// <summary>Builds the application from command-line arguments, appsettings and the environment.</summary>
    /// <param name="environment">Seed-style variables to map (tests pass their own; default: the process environment).</param>
    public static WebApplication Build(string[] args, IDictionary<string, string?>? environment = null)
    {
        // appsettings.json ships beside the binary; ./data stays relative to where the silo is started.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddSeedEnvironment(environment);
        // Command-line arguments win over everything, the seed's variables included.
        builder.Configuration.AddCommandLine(args);
        var castIron = builder.Configuration.GetSection("CastIron");
        var cluster = castIron.GetSection("Cluster");

        // The embedded default: one silo on localhost, the local folder store, file-based state. The distributed
        // setup (Kafka, MinIO, ClickHouse) replaces these registrations when configured.
        var bucket = castIron["Bucket"] ?? new CastIronOptions().Bucket;
        var s3 = castIron.GetSection("S3");
        var useS3 = s3.Get<Storage.S3.S3StorageOptions>()?.Enabled ?? false;
        var clickHouse = castIron.GetSection("ClickHouse");
        var useClickHouse = clickHouse.Get<Status.ClickHouse.ClickHouseStatusOptions>()?.Enabled ?? false;
        var dataRoot = castIron.GetSection("LocalFolder")["RootPath"] ?? new Storage.LocalFolder.LocalFolderOptions().RootPath;
        var redisCluster = cluster.Get<Redis.RedisClusterOptions>() ?? new Redis.RedisClusterOptions();
        if (redisCluster.Validate().ToList() is { Count: > 0 } clusterProblems)
        {
            throw new InvalidSettingException(string.Join("; ", clusterProblems));
        }

        if (redisCluster.Enabled)
        {
            // Registered before Orleans so it starts first: the silo waits for Redis rather than dying 5 s into its start.
            builder.Services.AddHostedService(sp => ActivatorUtilities.CreateInstance<Redis.RedisStartupWait>(sp, redisCluster, TimeProvider.System));
        }

        builder.UseOrleans(silo =>
        {
            var siloPort = cluster.GetValue("SiloPort", 11111);
            var gatewayPort = cluster.GetValue("GatewayPort", 30000);
            if (useClickHouse)
            {
                // CLICKHOUSE_HOST and CLICKHOUSE_PORT set: file status in rubicon.cast_iron_file_status, its journal
                // beside the other local state.
                silo.Services.AddCastIronClickHouse(options =>
                {
                    options.JournalPath = Path.Combine(dataRoot, Storage.LocalFolder.LocalFolderOptions.SystemFolderName, "clickhouse");
                    clickHouse.Bind(options);
                });
            }

            if (redisCluster.Enabled)
            {
                // CASTIRON_REDIS set: silos find each other in Redis and keep grain state, reminders, job timers and,
                // without ClickHouse, file status there; objects stay where their own settings put them.
                silo.AddCastIronRedisCluster(redisCluster, CastIronNames.GrainStorage, siloPort, gatewayPort);
            }
            else
            {
                // One silo on localhost; the same cluster and service ids as a cluster, so clients need no other setting.
                silo.UseLocalhostClustering(siloPort, gatewayPort, serviceId: redisCluster.ServiceId, clusterId: redisCluster.ClusterId);
            }

            // With KAFKA_BROKER set: streaming payloads and job events over Kafka (before AddCastIron: its embedded
            // job-event feed only stands in when no sink is registered). With the S3 store, MinIO's notifications
            // on castiron_etl_source_file are taken unless turned off.
            silo.AddCastIronKafka(castIron.GetSection("Kafka"), o => o.BucketNotifications ??= useS3);
            silo.AddCastIron(castIron);
            if (useS3)
            {
                // MINIO_HOST set: objects live on S3; grain state, status and timers stay local unless a cluster or
                // ClickHouse holds them.
                silo.Services.AddCastIronS3(bucket, options => s3.Bind(options));
            }

            silo.Services.AddCastIronLocalFolder(
                bucket,
                redisCluster.Enabled ? null : CastIronNames.GrainStorage,
                options => castIron.GetSection("LocalFolder").Bind(options));
            silo.AddDashboard();
        });

        // A stop lets running processors finish within their grace period, then Orleans shuts down: allow for both.
        var grace = castIron.GetSection("Processing").GetValue("ShutdownGracePeriod", new Processing.ProcessingOptions().ShutdownGracePeriod);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = grace + TimeSpan.FromSeconds(30));
        builder.Services.AddOptions<ApiOptions>().Bind(castIron.GetSection("Api")).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ApiOptions>>(new Options.DescribedOptionsValidator<ApiOptions>(o => o.Validate()));
        builder.Services.AddSingleton<CastIronService>();
        builder.Services.AddHostedService<IntakeSwitchFollower>();
        builder.Services.AddOpenApi();
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter());
        });

        builder.AddCastIronObservability(castIron);

        var app = builder.Build();
        var settingsLog = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Orleans.CastIron.Silo.Settings");
        foreach (var warning in SeedEnvironment.NotApplicableWarnings(environment))
        {
#pragma warning disable CA1848, CA2254 // Once per start; the text is the message.
            settingsLog.LogWarning(warning);
#pragma warning restore CA1848, CA2254
        }

        app.UseJsonStatusCodes();
        app.MapOpenApi();
        app.MapOrleansDashboard(routePrefix: "/dashboard");
        app.MapCastIronApi();
        app.MapHealthRoutes();
        return app;
    }

    /// <summary>The exit code for settings that cannot be used (<c>EX_CONFIG</c> of sysexits.h).</summary>
    public const int InvalidSettingsExitCode = 78;

    /// <summary>
    /// Validates every setting registered for validation at start, before anything starts (so no component logs a
    /// failed start first).
    /// </summary>
    /// <exception cref="OptionsValidationException">A setting is invalid.</exception>
    public static void ValidateSettings(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.Services.GetService<IStartupValidator>()?.Validate();
    }

    /// <summary>
    /// One line describing a settings problem (an invalid value, a value of the wrong type, an unknown log level), or
    /// null when <paramref name="exception"/> is not about settings.
    /// </summary>
    public static string? DescribeSettingsError(Exception exception) => exception switch
    {
        OptionsValidationException invalid => OneLine(string.Join("; ", invalid.Failures)),
        InvalidSettingException setting => OneLine(setting.Message),
        // Binding "abc" to a number: the message names the key ("Failed to convert configuration value at '...'").
        InvalidOperationException conversion when conversion.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal) =>
            OneLine(conversion.InnerException is { } inner ? $"{conversion.Message} ({inner.Message})" : conversion.Message),
        AggregateException aggregate when aggregate.InnerExceptions.Select(DescribeSettingsError).ToList() is var all && all.All(d => d is not null) =>
            string.Join("; ", all),
        _ => null,
    };

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
