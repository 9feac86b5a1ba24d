using Microsoft.Extensions.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Orleans.CastIron.Silo.Tests;

public class ConfigurationTests
{
    [Fact]
    public void SeedVariables_MapOntoOurKeys()
    {
        var configuration = new ConfigurationBuilder().AddSeedEnvironment(new Dictionary<string, string?>
        {
            ["MINIO_ETL_BUCKET"] = "etl2",
            ["LOG_LEVEL"] = "debug",
            ["CASTIRON_API_KEY"] = "k",
            ["ENABLE_TIKA"] = "true",
            ["UNRELATED"] = "x",
        }).Build();

        Assert.Equal("etl2", configuration["CastIron:Bucket"]);
        Assert.Equal("Debug", configuration["Logging:LogLevel:Default"]);
        Assert.Equal("k", configuration["CastIron:Api:ApiKey"]);
        Assert.Equal("true", configuration["CastIron:MatchContentType"]);
    }

    [Fact]
    public void SeedKafkaConsumerVariables_MapOrAreNamedAsMeaningNothingHere()
    {
        var environment = new Dictionary<string, string?>
        {
            ["KAFKA_MAX_POLL_RECORDS"] = "50",
            ["KAFKA_ENABLE_AUTO_COMMIT"] = "true",
            ["KAFKA_MAX_POLL_INTERVAL_MS"] = "UNSET",
        };
        var configuration = new ConfigurationBuilder().AddSeedEnvironment(environment).Build();

        Assert.Equal("50", configuration["CastIron:Kafka:MaxPollRecords"]);
        var warning = Assert.Single(SeedEnvironment.NotApplicableWarnings(environment));
        Assert.StartsWith("KAFKA_ENABLE_AUTO_COMMIT=true is ignored: offsets are committed only for records delivered or dead-lettered", warning, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("TRUE", true)]
    [InlineData("1", true)]
    [InlineData("yes", true)]
    [InlineData("Y", true)]
    [InlineData("t", true)]
    [InlineData("on", true)]
    [InlineData("false", false)]
    [InlineData("False", false)]
    [InlineData("0", false)]
    [InlineData("no", false)]
    [InlineData("N", false)]
    [InlineData("f", false)]
    [InlineData("off", false)]
    public void EnableTika_TakesTheSeedsSpellings_AndFalseMeansFalse(string value, bool expected)
    {
        var configuration = new ConfigurationBuilder().AddSeedEnvironment(new Dictionary<string, string?> { ["ENABLE_TIKA"] = value }).Build();

        Assert.Equal(expected, configuration.GetSection("CastIron").Get<Grains.CastIronOptions>()!.MatchContentType);
    }

    [Theory]
    [InlineData("enabled")]
    [InlineData("2")]
    [InlineData("tru")]
    public void EnableTika_ASpellingTheSeedRefused_IsAOneLineStartError(string value)
    {
        var ex = Assert.Throws<InvalidSettingException>(() => new ConfigurationBuilder().AddSeedEnvironment(new Dictionary<string, string?> { ["ENABLE_TIKA"] = value }));

        Assert.Equal($"ENABLE_TIKA='{value}' is not true or false (use true/false, 1/0, yes/no, on/off, t/f or y/n)", ex.Message);
        Assert.Equal(ex.Message, SiloHost.DescribeSettingsError(ex));
    }

    [Fact]
    public void UserSystemDefaultClassification_IsTheClassificationOfClickHouseRowsWithoutOne()
    {
        var configuration = new ConfigurationBuilder().AddSeedEnvironment(new Dictionary<string, string?>
        {
            ["CLICKHOUSE_HOST"] = "clickhouse",
            ["CLICKHOUSE_PORT"] = "8123",
            ["USER_SYSTEM_DEFAULT_CLASSIFICATION"] = "CUI",
        }).Build();
        var options = configuration.GetSection("CastIron:ClickHouse").Get<Status.ClickHouse.ClickHouseStatusOptions>()!;

        Assert.Equal("CUI", options.DefaultClassification);
        Assert.Empty(options.Validate());
        Assert.Equal("UNCLASSIFIED", new Status.ClickHouse.ClickHouseStatusOptions().DefaultClassification);
        options.DefaultClassification = " ";
        Assert.Equal("USER_SYSTEM_DEFAULT_CLASSIFICATION (CastIron:ClickHouse:DefaultClassification) must not be blank", Assert.Single(options.Validate()));
    }

    [Fact]
    public void UnknownLogLevel_IsAClearError()
    {
        var ex = Assert.Throws<InvalidSettingException>(() => new ConfigurationBuilder().AddSeedEnvironment(new Dictionary<string, string?> { ["LOG_LEVEL"] = "loud" }));

        Assert.Contains("LOG_LEVEL='loud' is not a log level", ex.Message, StringComparison.Ordinal);
        Assert.Equal(ex.Message, SiloHost.DescribeSettingsError(ex));
    }

    [Theory]
    [InlineData("--CastIron:Bucket=Bad_Bucket", "CastIron:Bucket 'Bad_Bucket' is not a valid bucket name")]
    [InlineData("--CastIron:Processing:MaxConcurrency=0", "CastIron:Processing:MaxConcurrency must be at least 1")]
    [InlineData("--CastIron:LocalFolder:DeliveryParallelism=0", "CastIron:LocalFolder:DeliveryParallelism must be at least 1")]
    public async Task InvalidSettings_StopTheSiloAtStart_NamingTheSetting(string argument, string expected)
    {
        var root = Path.Combine(Path.GetTempPath(), "castiron-silo-tests", Guid.NewGuid().ToString("N"));
        await using var app = SiloHost.Build([.. SiloFixture.Arguments(root), argument], new Dictionary<string, string?>());

        var ex = await Assert.ThrowsAnyAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--CastIron:Cluster:SiloPort=abc", "CastIron:Cluster:SiloPort")]
    [InlineData("--CastIron:Processing:MaxConcurrency=many", "MaxConcurrency")]
    [InlineData("--CastIron:LocalFolder:ScanInterval=0", "CastIron:LocalFolder:ScanInterval must be positive")]
    [InlineData("--CastIron:StrictConfigs=maybe", "CastIron:StrictConfigs")]
    public async Task SettingsErrors_AreDescribedInOneLineNamingTheSetting(string argument, string expected)
    {
        var root = Path.Combine(Path.GetTempPath(), "castiron-silo-tests", Guid.NewGuid().ToString("N"));

        var ex = await Record.ExceptionAsync(async () =>
        {
            await using var app = SiloHost.Build([.. SiloFixture.Arguments(root), argument], new Dictionary<string, string?>());
            SiloHost.ValidateSettings(app);
        });

        var description = SiloHost.DescribeSettingsError(Assert.IsAssignableFrom<Exception>(ex));
        Assert.NotNull(description);
        Assert.Contains(expected, description, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', description);
    }

    [Fact]
    public void OtherFailures_AreNotSettingsErrors()
    {
        Assert.Null(SiloHost.DescribeSettingsError(new IOException("address in use")));
    }

    [Theory]
    [InlineData("MINIO_PORT", "MINIO_PORT (CastIron:S3:Port) must be set when MINIO_HOST is set (e.g. 9000)")]
    [InlineData("MINIO_ROOT_PASSWORD", "MINIO_ROOT_PASSWORD (CastIron:S3:SecretKey) must be set when MINIO_HOST is set")]
    [InlineData("MINIO_ROOT_USER", "MINIO_ROOT_USER (CastIron:S3:AccessKey) must be set when MINIO_HOST is set")]
    public void S3_WithAHostButAMissingSetting_StopsAtStart_NamingTheSeedVariable(string missing, string expected)
    {
        var environment = new Dictionary<string, string?>
        {
            ["MINIO_HOST"] = "minio",
            ["MINIO_PORT"] = "9000",
            ["MINIO_ROOT_USER"] = "castiron",
            ["MINIO_ROOT_PASSWORD"] = "castiron",
        };
        environment[missing] = "UNSET";
        var root = Path.Combine(Path.GetTempPath(), "castiron-silo-tests", Guid.NewGuid().ToString("N"));

        var ex = Record.Exception(() =>
        {
            var app = SiloHost.Build(SiloFixture.Arguments(root), environment);
            SiloHost.ValidateSettings(app);
        });

        var description = SiloHost.DescribeSettingsError(Assert.IsAssignableFrom<Exception>(ex));
        Assert.Equal(expected, description);
    }

    [Theory]
    [InlineData("minio:9000", null, "minio", 9000)]
    [InlineData("minio", "9001", "minio", 9001)]
    [InlineData("10.0.0.5:9000", "9000", "10.0.0.5", 9000)]
    public void S3_HostMayCarryItsPort_AsOlderSeedRecipesDid(string host, string? port, string expectedHost, int expectedPort)
    {
        var options = new Storage.S3.S3StorageOptions { Host = host, Port = port is null ? null : int.Parse(port, System.Globalization.CultureInfo.InvariantCulture), AccessKey = "a", SecretKey = "b" };
        Assert.Empty(options.Validate());
        Assert.Equal(expectedHost, options.HostName);
        Assert.Equal(expectedPort, options.EffectivePort);
    }

    [Theory]
    [InlineData("minio:9000", 9001, "names port 9000 but MINIO_PORT (CastIron:S3:Port) is 9001")]
    [InlineData("minio:", 9000, "'minio:' is not a host name")]
    [InlineData("http://minio", 9000, "is not a host name")]
    public void S3_HostAndPortThatContradictOrDoNotParse_AreNamed(string host, int port, string expected)
    {
        var options = new Storage.S3.S3StorageOptions { Host = host, Port = port, AccessKey = "a", SecretKey = "b" };
        Assert.Contains(options.Validate(), p => p.Contains(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("UNSET", false)]
    [InlineData("", false)]
    [InlineData("minio", true)]
    public void S3_IsSelectedByMinioHost_AsInTheSeed(string host, bool selected)
    {
        var configuration = new ConfigurationBuilder().AddSeedEnvironment(new Dictionary<string, string?> { ["MINIO_HOST"] = host, ["MINIO_PORT"] = "9000" }).Build();
        var options = configuration.GetSection("CastIron:S3").Get<Storage.S3.S3StorageOptions>() ?? new();
        Assert.Equal(selected, options.Enabled);
    }

    [Fact]
    public void S3_SeedVariables_MapOntoOurKeys_AnEmptyArnTurnsRegistrationOff_AndFlagsReadLikePython()
    {
        var configuration = new ConfigurationBuilder().AddSeedEnvironment(new Dictionary<string, string?>
        {
            ["MINIO_HOST"] = "minio",
            ["MINIO_PORT"] = "9000",
            ["MINIO_ROOT_USER"] = "u",
            ["MINIO_ROOT_PASSWORD"] = "p",
            ["MINIO_SECURE"] = "True",
            ["MINIO_NOTIFICATION_ARN_ETL_SOURCE_FILE"] = "",
        }).Build();
        var options = configuration.GetSection("CastIron:S3").Get<Storage.S3.S3StorageOptions>()!;

        Assert.Equal("https://minio:9000", options.Endpoint);
        Assert.Equal("u", options.AccessKey);
        Assert.Equal("p", options.SecretKey);
        Assert.Null(options.EffectiveNotificationArn);
        Assert.Equal("arn:minio:sqs::source:kafka", new Storage.S3.S3StorageOptions().EffectiveNotificationArn);
        var bad = Assert.Throws<InvalidSettingException>(() => new ConfigurationBuilder().AddSeedEnvironment(new Dictionary<string, string?> { ["MINIO_SECURE"] = "maybe" }));
        Assert.Contains("MINIO_SECURE='maybe' is not true or false", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task S3_WithKafka_TakesBucketNotificationsByDefault_AndNotWithTheFolderStore()
    {
        var root = Path.Combine(Path.GetTempPath(), "castiron-silo-tests", Guid.NewGuid().ToString("N"));
        var kafka = new Dictionary<string, string?> { ["KAFKA_BROKER"] = "localhost:1" };
        var s3 = new Dictionary<string, string?>(kafka) { ["MINIO_HOST"] = "127.0.0.1", ["MINIO_PORT"] = "1", ["MINIO_ROOT_USER"] = "u", ["MINIO_ROOT_PASSWORD"] = "p" };

        await using var withS3 = SiloHost.Build(SiloFixture.Arguments(root), s3);
        await using var withFolder = SiloHost.Build(SiloFixture.Arguments(root), kafka);
        await using var optedOut = SiloHost.Build([.. SiloFixture.Arguments(root), "--CastIron:Kafka:BucketNotifications=false"], s3);

        Assert.Contains("castiron_etl_source_file", Topics(withS3));
        Assert.DoesNotContain("castiron_etl_source_file", Topics(withFolder));
        Assert.DoesNotContain("castiron_etl_source_file", Topics(optedOut));
        Assert.IsType<Storage.S3.Providers.S3ObjectStore>(withS3.Services.GetRequiredService<Storage.IObjectStore>());
        Assert.IsNotType<Storage.S3.Providers.S3ObjectStore>(withFolder.Services.GetRequiredService<Storage.IObjectStore>());
    }

    private static IEnumerable<string> Topics(WebApplication app) =>
        app.Services.GetRequiredService<IOptionsMonitor<Streaming.Kafka.KafkaStreamOptions>>().Get("kafka").Topics.Select(t => t.Name);
}
