using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.CastIron.Processing;
using Orleans.CastIron.Processing.Python;

namespace Orleans.CastIron.Silo.Tests.Processing;

/// <summary>The Python host on its own, where a silo's settings are wrong: the interpreter missing or not Python.</summary>
public sealed class PythonHostTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "castiron-python-host", Guid.NewGuid().ToString("N"));

    private async Task<PythonOutcome> CallWithAsync(string executable)
    {
        var options = Microsoft.Extensions.Options.Options.Create(new PythonOptions { Executable = executable, StartTimeout = TimeSpan.FromSeconds(10) });
        await using var pool = new PythonWorkerPool(options, Microsoft.Extensions.Options.Options.Create(new ProcessingOptions { WorkPath = _root }), NullLogger<PythonWorkerPool>.Instance);
        var host = new PythonHost(pool, options, NullLogger<PythonHost>.Instance);
        return await host.CallHandlerAsync("json.dumps", new JsonObject { ["obj"] = 1 }, _root, new OutputTail(), CancellationToken.None);
    }

    [Fact]
    public async Task AHandlerRuns_OnTheSystemPython()
    {
        var outcome = await CallWithAsync("python3");

        Assert.Null(outcome.Failure);
        Assert.StartsWith("Python 3.", outcome.Runtime, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMissingInterpreter_FailsTheRequest_NamingTheSetting()
    {
        var outcome = await CallWithAsync("/nonexistent/python3");

        Assert.StartsWith("the Python interpreter '/nonexistent/python3' (CastIron:Python:Executable) exited with code ", outcome.Failure, StringComparison.Ordinal);
        Assert.Contains("No such file or directory", outcome.Failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnInterpreterThatIsNotPython_FailsTheRequest_NamingTheSetting()
    {
        var outcome = await CallWithAsync("/bin/false");

        Assert.Equal("the Python interpreter '/bin/false' (CastIron:Python:Executable) exited with code 1 at start", outcome.Failure);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
