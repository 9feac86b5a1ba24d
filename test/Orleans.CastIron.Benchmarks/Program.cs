using System.Globalization;

// Benchmarks against raw baselines measured in the same run (see WorkflowBenchmark and KafkaBenchmark).
// Usage: dotnet run -c Release --project test/Orleans.CastIron.Benchmarks [-- files <n> [<queued>]] | [-- kafka <n>] | [-- s3 <n>] | [-- clickhouse <rows> <files>] | [-- python <files> [<concurrency>]]
if (args.Length > 0 && args[0] == "clickhouse")
{
    await Orleans.CastIron.Benchmarks.ClickHouseBenchmark.RunAsync(
        args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100_000,
        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1000);
    return;
}

if (args.Length > 0 && args[0] == "python")
{
    await Orleans.CastIron.Benchmarks.PythonBenchmark.RunAsync(
        args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 500,
        args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : Environment.ProcessorCount);
    return;
}

if (args.Length > 0 && args[0] == "s3")
{
    await Orleans.CastIron.Benchmarks.S3Benchmark.RunAsync(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 500);
    return;
}

if (args.Length > 0 && args[0] == "kafka")
{
    await Orleans.CastIron.Benchmarks.KafkaBenchmark.RunAsync(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20_000);
    return;
}

var files = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1000;
var queued = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 10_000;
await Orleans.CastIron.Benchmarks.WorkflowBenchmark.RunAsync(files, queued);
