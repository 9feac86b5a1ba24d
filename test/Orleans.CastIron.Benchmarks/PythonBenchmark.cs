using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.CastIron.Config;
using Orleans.CastIron.Processing;
using Orleans.CastIron.Processing.Python;

namespace Orleans.CastIron.Benchmarks;

/// <summary>
/// Small files through a no-op Python processor (<c>def process(file_path, **kwargs): pass</c>) on the silo's warm
/// worker pool (<see cref="PythonHost"/> on <see cref="PythonWorkerPool"/>), against what a naive host does: one
/// interpreter started per file that imports the module and calls it. Same files, same concurrency, same interpreter,
/// same run; each variant is warmed up first, then the two take turns twice and the best of each is compared.
/// </summary>
internal static class PythonBenchmark
{
    private const int Rounds = 2;

    /// <summary>What the naive host runs per file: argv[1] is the folder holding the package, argv[2] the file.</summary>
    private const string PerFileScript =
        "import sys; sys.path.insert(0, sys.argv[1]); import importlib; m = importlib.import_module('bench_mod.noop'); m.process(sys.argv[2])";

    private static readonly PythonProcessorConfig Processor = new() { WorkerRunMethod = "bench_mod.noop.process" };

    public static async Task RunAsync(int files, int concurrency)
    {
        // A pyenv shim is a shell script that costs more than the interpreter start itself: both variants run the
        // interpreter it resolves to, so the baseline measures Python's start, not the shim's.
        var python = await ResolveInterpreterAsync(Environment.GetEnvironmentVariable("BENCH_PYTHON") ?? "python3");
        var root = Path.Combine(Path.GetTempPath(), "castiron-bench-python-" + Guid.NewGuid().ToString("N"));
        try
        {
            var warmUp = Math.Max(2 * concurrency, 4);
            var (package, warmFiles, benchFiles) = WriteFiles(root, files, warmUp);
            Console.WriteLine($"Python benchmark: {files} files of 100 bytes through a no-op processor, concurrency {concurrency}, {Environment.ProcessorCount} cores, {python}");

            var options = Microsoft.Extensions.Options.Options.Create(new PythonOptions { Executable = python, Path = package, MaxWorkers = concurrency });
            var processing = Microsoft.Extensions.Options.Options.Create(new ProcessingOptions { MaxConcurrency = concurrency, WorkPath = Path.Combine(root, "work") });
            await using var pool = new PythonWorkerPool(options, processing, NullLogger<PythonWorkerPool>.Instance);
            var host = new PythonHost(pool, options, NullLogger<PythonHost>.Instance);

            // Warm-up, not timed: the pool's workers start and import the module, the per-file path gets its page
            // cache and the JIT its code.
            await WarmPoolAsync(host, warmFiles, concurrency);
            var startedAtWarmUp = pool.Started;
            await PerFileAsync(python, package, warmFiles, concurrency);
            Console.WriteLine($"warm-up: {warmFiles.Count} files through each variant before timing ({startedAtWarmUp} workers started)");

            var results = new List<(string Name, double Seconds)>();
            for (var round = 1; round <= Rounds; round++)
            {
                results.Add(($"warm pool, round {round}", await WarmPoolAsync(host, benchFiles, concurrency)));
                results.Add(($"one interpreter per file, round {round}", await PerFileAsync(python, package, benchFiles, concurrency)));
            }

            var warm = results.Where(r => r.Name.StartsWith("warm", StringComparison.Ordinal)).Min(r => r.Seconds);
            var perFile = results.Where(r => r.Name.StartsWith("one", StringComparison.Ordinal)).Min(r => r.Seconds);
            Console.WriteLine();
            Console.WriteLine($"{"run",-36} {"files",6} {"conc.",6} {"seconds",8} {"files/s",8} {"ms/file",8} {"of per-file",12}");
            foreach (var (name, seconds) in results)
            {
                Console.WriteLine($"{name,-36} {files,6} {concurrency,6} {seconds,8:F2} {files / seconds,8:F0} {seconds * 1000 / files,8:F2} {perFile / seconds,12:F2}");
            }

            Console.WriteLine(
                $"warm pool / one interpreter per file: {files / warm:F0} vs {files / perFile:F0} files/s = {perFile / warm:F1}x (best of {Rounds} each); "
                + $"workers started: {pool.Started} for {warmFiles.Count + Rounds * files} files ({pool.Started - startedAtWarmUp} during the timed runs)");
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
                // Left in the temp folder.
            }
        }
    }

    /// <summary>The package and one job folder per file (RunFileAsync writes its output file there).</summary>
    private static (string Package, List<(string Folder, string File)> WarmUp, List<(string Folder, string File)> Bench) WriteFiles(string root, int files, int warmUp)
    {
        var package = Path.Combine(root, "code");
        Directory.CreateDirectory(Path.Combine(package, "bench_mod"));
        File.WriteAllText(Path.Combine(package, "bench_mod", "__init__.py"), "");
        File.WriteAllText(Path.Combine(package, "bench_mod", "noop.py"), "def process(file_path, **kwargs):\n    pass\n");
        var content = new string('x', 99) + "\n";
        List<(string, string)> Write(string prefix, int count)
        {
            var list = new List<(string, string)>(count);
            for (var i = 0; i < count; i++)
            {
                var folder = Path.Combine(root, "jobs", $"{prefix}-{i:D5}");
                Directory.CreateDirectory(folder);
                var file = Path.Combine(folder, $"file-{i:D5}.txt");
                File.WriteAllText(file, content);
                list.Add((folder, file));
            }

            return list;
        }

        return (package, Write("warm", warmUp), Write("bench", files));
    }

    private static async Task<double> WarmPoolAsync(PythonHost host, List<(string Folder, string File)> files, int concurrency)
    {
        var empty = new Dictionary<string, object?>();
        var metadata = new Dictionary<string, string>();
        var watch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(files, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (job, ct) =>
        {
            var output = new OutputTail();
            var outcome = await host.RunFileAsync(
                "bench", Processor, Path.GetFileName(job.Folder), job.Folder, job.File, empty, metadata, _ => Task.CompletedTask, output, ct);
            if (outcome.Failure is not null)
            {
                throw new InvalidOperationException($"warm pool: {job.File} failed on {outcome.Runtime}: {outcome.Failure}\n{output}");
            }
        });
        return watch.Elapsed.TotalSeconds;
    }

    private static async Task<double> PerFileAsync(string python, string package, List<(string Folder, string File)> files, int concurrency)
    {
        var watch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(files, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (job, ct) =>
        {
            var start = new ProcessStartInfo(python)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = job.Folder,
            };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(PerFileScript);
            start.ArgumentList.Add(package);
            start.ArgumentList.Add(job.File);
            using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {python}");
            var stdout = process.StandardOutput.ReadToEndAsync(ct);
            var stderr = process.StandardError.ReadToEndAsync(ct);
            await process.WaitForExitAsync(ct);
            var (output, errors) = (await stdout, await stderr);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"one interpreter per file: {job.File} exited with {process.ExitCode}\n{output}{errors}");
            }
        });
        return watch.Elapsed.TotalSeconds;
    }

    /// <summary>The interpreter <paramref name="executable"/> runs (sys.executable), e.g. behind a pyenv shim.</summary>
    private static async Task<string> ResolveInterpreterAsync(string executable)
    {
        var start = new ProcessStartInfo(executable) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("import sys; print(sys.executable)");
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {executable}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var path = (await stdout).Trim();
        if (process.ExitCode != 0 || path.Length == 0)
        {
            throw new InvalidOperationException($"{executable} could not say where its interpreter is (exit {process.ExitCode}): {await stderr}");
        }

        return path;
    }
}
