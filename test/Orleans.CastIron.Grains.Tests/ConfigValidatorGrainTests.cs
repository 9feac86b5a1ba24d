namespace Orleans.CastIron.Grains.Tests;

[Collection(ClusterCollection.Name)]
public class ConfigValidatorGrainTests(ClusterFixture fixture)
{
    private static string Fixture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", name));

    [Fact]
    public async Task SeedExampleConfig_ValidatesThroughTheCluster()
    {
        var grain = fixture.Client.GetGrain<IConfigValidatorGrain>(0);

        var result = await grain.ValidateAsync("example_config.toml", Fixture("example_config.toml"));

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal("etl.example.example_text_processor.process", result.Config!.Python!.WorkerRunMethod);
        Assert.Equal("foobar", result.Config.Python.StaticKwargs["field1_param"]);
        Assert.Equal("05_canceled", result.Config.CanceledDir);
    }

    [Fact]
    public async Task ErrorsCrossTheWire_WithKeyLineAndColumn()
    {
        var grain = fixture.Client.GetGrain<IConfigValidatorGrain>(0);

        var result = await grain.ValidateAsync("test_config.toml", Fixture("test_config.toml"));

        var error = Assert.Single(result.Errors);
        Assert.Equal(new ConfigError(ConfigErrorCode.DuplicateKey, "castiron.etl.error_dir", 24, 1, error.Message), error);
    }
}
