using Xunit.Abstractions;

namespace Orleans.CastIron.Silo.Tests;

/// <summary>
/// Figures a test measures (kills, duplicates, memory): written to the test's output, and appended to the file named
/// by <c>CASTIRON_TEST_FIGURES</c> when set (<c>.ci/run</c> sets it and prints the file), since a passing test's
/// output is not shown by <c>dotnet test</c>.
/// </summary>
internal static class TestFigures
{
    private static readonly Lock Gate = new();

    public static void Report(ITestOutputHelper output, string test, string line)
    {
        output.WriteLine(line);
        if (Environment.GetEnvironmentVariable("CASTIRON_TEST_FIGURES") is { Length: > 0 } path)
        {
            lock (Gate)
            {
                File.AppendAllText(path, $"{test}: {line}{Environment.NewLine}");
            }
        }
    }
}
