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
    public async Task SiloKilledWhileAPythonProcessorHangs_TheWorkerAndWhatItStartedGoToo()
    {
        var code = Path.Combine(Path.GetTempPath(), "castiron-python-" + Guid.NewGuid().ToString("N"));
        var pids = Path.Combine(code, "pids.txt");
        Directory.CreateDirectory(code);
        await File.WriteAllTextAsync(Path.Combine(code, "hangs.py"), $"""
            import os, subprocess, time
            def process(file_path, **kwargs):
                child = subprocess.Popen(["sleep", "3600"])
                with open({System.Text.Json.JsonSerializer.Serialize(pids)}, "w") as out:
                    out.write("%d %d" % (os.getpid(), child.pid))
                time.sleep(3600)
            """);
        try
        {
            var silo = SiloProcess.Start($"--CastIron:Python:Path={code}");
            await silo.WaitForStdoutAsync(o => o.Contains("Now listening on:", StringComparison.Ordinal), "the silo to listen");
            var bucket = Path.Combine(silo.WorkingDirectory, "data", "etl");
            Directory.CreateDirectory(bucket);
            await File.WriteAllTextAsync(Path.Combine(bucket, "hang.toml"), """
                [castiron.etl]
                enabled = true
                handled_file_glob = ".csv"
                inbox_dir = "01_inbox"
                processing_dir = "02_processing"
                archive_dir = "03_archive"
                error_dir = "04_failed"
                save_error_log = true

                [castiron.etl.python]
                worker_run_method = "hangs.process"
                """);
            await SiloFixture.WaitUntilAsync(() => Task.FromResult(File.Exists(Path.Combine(bucket, "01_inbox", ".keep"))), () => "the stage folders");
            File.WriteAllText(Path.Combine(bucket, "01_inbox", "x.csv"), "x");
            await SiloFixture.WaitUntilAsync(() => Task.FromResult(File.Exists(pids) && File.ReadAllText(pids).Contains(' ', StringComparison.Ordinal)), () => $"the processor to start\n{silo.Stdout}");
            var running = File.ReadAllText(pids).Split(' ').Select(int.Parse).ToList();

            // SIGKILL to the silo alone, as the kernel's OOM killer or `kill -9` would (not to its process tree).
            using (var kill = System.Diagnostics.Process.Start("kill", ["-KILL", silo.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            await silo.WaitForExitAsync(TimeSpan.FromSeconds(30));
            await silo.DisposeAsync();

            // The worker notices within about a second and takes its process group (the processor's child) with it.
            await SiloFixture.WaitUntilAsync(() => Task.FromResult(running.All(pid => !Alive(pid))), () => $"processes {string.Join(", ", running.Where(Alive))} still running after their silo was killed");
        }
        finally
        {
            Directory.Delete(code, recursive: true);
        }
    }

    private static bool Alive(int pid)
    {
        try
        {
            // Gone, or a zombie nobody has reaped yet.
            return File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1][0] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
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
