using Microsoft.Extensions.Configuration;
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
}
