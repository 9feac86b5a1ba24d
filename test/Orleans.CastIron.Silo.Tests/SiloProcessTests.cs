namespace Orleans.CastIron.Silo.Tests;

/// <summary>The silo binary as a user runs it: the shipped settings, a real process, its own console.</summary>
public class SiloProcessTests
{
    private static string Example(string name) => Path.Combine(AppContext.BaseDirectory, "examples", name);

    [Fact]
    public void TheSettingsBesideTheBinary_AreTheShippedOnes()
    {
        var shipped = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "silo", "Orleans.CastIron.Silo", "appsettings.json");

        Assert.Equal(File.ReadAllText(shipped), File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "appsettings.json")));
    }

    [Fact]
    public async Task AsShipped_TheQuickStartShowsTheExampleProcessorsRowsInTheLog()
    {
        await using var silo = SiloProcess.Start();
        await silo.WaitForStdoutAsync(o => o.Contains("Now listening on:", StringComparison.Ordinal), "the silo to listen");
        var bucket = Path.Combine(silo.WorkingDirectory, "data", "etl");
        Directory.CreateDirectory(bucket);

        // The README's quick start, literally: the seed's config, then its CSV.
        File.Copy(Example("example_config.toml"), Path.Combine(bucket, "example_config.toml"));
        await SiloFixture.WaitUntilAsync(() => Task.FromResult(File.Exists(Path.Combine(bucket, "01_inbox", ".keep"))), () => "the stage folders");
        File.Copy(Example("test.csv"), Path.Combine(bucket, "01_inbox", "test.csv"));

        const string Row = "Example processor row: ";
        var rows = File.ReadAllLines(Example("test.csv")).Length;
        await silo.WaitForStdoutAsync(o => Count(o, Row) >= rows, $"{rows} example processor rows in the log");
        Assert.Contains(Row + "timestamp=2022-12-20T20:23:15.116417, longitude=-104.827209, latitude=41.136035, elevation=0.0, data_id=Unknown", silo.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithThePythonPath_TheSeedExampleRunsOnPython_UnchangedConfig()
    {
        // The seed's own example code, shipped under examples/python, on the path.
        var python = Path.Combine(AppContext.BaseDirectory, "examples", "python");
        await using var silo = SiloProcess.Start($"--CastIron:Python:Path={python}");
        await silo.WaitForStdoutAsync(o => o.Contains("Now listening on:", StringComparison.Ordinal), "the silo to listen");
        var bucket = Path.Combine(silo.WorkingDirectory, "data", "etl");
        Directory.CreateDirectory(bucket);

        File.Copy(Example("example_config.toml"), Path.Combine(bucket, "example_config.toml"));
        await SiloFixture.WaitUntilAsync(() => Task.FromResult(File.Exists(Path.Combine(bucket, "01_inbox", ".keep"))), () => "the stage folders");
        File.Copy(Example("test.csv"), Path.Combine(bucket, "01_inbox", "test.csv"));

        await SiloFixture.WaitUntilAsync(() => Task.FromResult(Directory.EnumerateFiles(Path.Combine(bucket, "03_archive"), "*-test.csv").Any()), () => $"test.csv archived\n{silo.Stdout}");
        await silo.WaitForStdoutAsync(o => o.Contains("the Python processor printed:", StringComparison.Ordinal), "the processor's prints in the log");
        Assert.Matches(@"etl\.example\.example_text_processor\.process runs on Python 3\.\d+\.\d+ \(worker \d+\)", silo.Stdout);
        // The seed's processor printed each row as a dict (the header line too).
        Assert.Contains("{'timestamp': '2022-12-20T20:23:15.116417', 'longitude': '-104.827209', 'latitude': '41.136035', 'elevation': '0.0', 'data_id': 'Unknown'}", silo.Stdout, StringComparison.Ordinal);
        Assert.Contains("and field1_param foobar", silo.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("built-in .NET stand-in", silo.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABadSetting_StopsTheSilo_WithOneLineNamingIt_AndANonZeroExitCode()
    {
        await using var silo = SiloProcess.Start("--CastIron:Processing:MaxConcurrency=0");

        var exitCode = await silo.WaitForExitAsync(TimeSpan.FromSeconds(90));

        Assert.NotEqual(0, exitCode);
        Assert.NotEqual(134, exitCode); // an abort: an unhandled exception
        var line = Assert.Single(silo.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("CastIron:Processing:MaxConcurrency must be at least 1", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", silo.Stdout + silo.Stderr, StringComparison.Ordinal);
    }

    private static int Count(string text, string value)
    {
        var count = 0;
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + value.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
