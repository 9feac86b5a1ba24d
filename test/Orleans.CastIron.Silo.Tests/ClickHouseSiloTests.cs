using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ClickHouse.Driver;
using ClickHouse.Driver.ADO.Parameters;

namespace Orleans.CastIron.Silo.Tests;

/// <summary>
/// The silo as a user runs it with the seed's <c>CLICKHOUSE_*</c> variables, against a real ClickHouse engine (chDB
/// behind ClickHouse's HTTP interface): a file's whole life in the seed's table, the API reading from it, and
/// ClickHouse stopped and started mid-run.
/// </summary>
[Collection(ClusterPeersCollection.Name)]
public sealed class ClickHouseSiloTests(Orleans.CastIron.ClickHousePeer.ClickHousePeer server)
{
    private static string Example(string name) => Path.Combine(AppContext.BaseDirectory, "examples", name);

    [Fact]
    public async Task TheQuickStartsFile_IsCompleteInTheSeedsTable_AndTheApiReadsIt_EvenAcrossAClickHouseOutage()
    {
        var database = Orleans.CastIron.ClickHousePeer.ClickHousePeer.NewDatabase("silo");
        var folder = Path.Combine(Path.GetTempPath(), "castiron-silo-process", Guid.NewGuid().ToString("N"));
        await using var silo = SiloProcess.StartWith(folder, ownsFolder: true, new Dictionary<string, string>
        {
            ["CLICKHOUSE_HOST"] = server.Url.Host,
            ["CLICKHOUSE_PORT"] = $"{server.Url.Port}",
            ["CLICKHOUSE_DATABASE"] = database,
        }, null);
        await silo.WaitForStdoutAsync(o => o.Contains("Now listening on:", StringComparison.Ordinal), "the silo to listen");
        var bucket = Path.Combine(folder, "data", "etl");
        Directory.CreateDirectory(bucket);
        File.Copy(Example("example_config.toml"), Path.Combine(bucket, "example_config.toml"));
        await SiloFixture.WaitUntilAsync(() => Task.FromResult(File.Exists(Path.Combine(bucket, "01_inbox", ".keep"))), () => "the stage folders");
        File.Copy(Example("test.csv"), Path.Combine(bucket, "01_inbox", "test.csv"));

        var id = await WaitForCompleteAsync(silo, 1);
        using var client = new ClickHouseClient($"Host={server.Url.Host};Port={server.Url.Port};Protocol=http;Username=default;Password=");
        Assert.Equal("Complete", await ScalarAsync(client, $"SELECT status FROM {database}.cast_iron_file_status FINAL WHERE id = {{id:String}}", id));
        Assert.Equal("test.csv", await ScalarAsync(client, $"SELECT original_filename FROM {database}.cast_iron_file_status FINAL WHERE id = {{id:String}}", id));
        Assert.Equal("UNCLASSIFIED", await ScalarAsync(client, $"SELECT classification FROM {database}.cast_iron_file_status FINAL WHERE id = {{id:String}}", id));

        if (!server.IsEmbedded)
        {
            return; // An external server cannot be stopped by the tests.
        }

        // ClickHouse goes away: files keep flowing, the API says why it cannot list, and nothing is lost.
        await server.StopAsync();
        try
        {
            File.Copy(Example("test.csv"), Path.Combine(bucket, "01_inbox", "second.csv"));
            await SiloFixture.WaitUntilAsync(() => Task.FromResult(Directory.GetFiles(Path.Combine(bucket, "03_archive"), "*second.csv").Length == 1), () => $"second.csv archived while ClickHouse is down\n{silo.Stdout}");
            using var down = await silo.Http.GetAsync("/files?status=Complete");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
            Assert.Contains("status store", await down.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            // The health page stays up and says what is wrong.
            var status = await silo.Http.GetFromJsonAsync<JsonElement>("/manager/status");
            Assert.StartsWith("the status store did not answer", status.GetProperty("message").GetProperty("status_store").GetString(), StringComparison.Ordinal);
            // The silo saw the outage: its rows wait in the journal, said once.
            await silo.WaitForStdoutAsync(o => o.Contains("is not taking status rows", StringComparison.Ordinal), "the status store's outage warning");
        }
        finally
        {
            await server.StartAsync();
        }

        await WaitForCompleteAsync(silo, 2);
        await silo.WaitForStdoutAsync(o => o.Contains("ClickHouse is taking status rows again", StringComparison.Ordinal), "the status store's recovery");
    }

    private static async Task<string> WaitForCompleteAsync(SiloProcess silo, int count)
    {
        string? id = null;
        await SiloFixture.WaitUntilAsync(async () =>
        {
            using var response = await silo.Http.GetAsync("/files?status=Complete");
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return false;
            }

            var files = await response.Content.ReadFromJsonAsync<JsonElement>();
            id = files.GetArrayLength() > 0 ? files[files.GetArrayLength() - 1].GetProperty("id").GetString() : null;
            return files.GetArrayLength() == count;
        }, () => $"{count} file(s) Complete in ClickHouse\n{silo.Stdout}\n{silo.Stderr}");
        return id!;
    }

    private static async Task<string?> ScalarAsync(ClickHouseClient client, string sql, string id)
    {
        var parameters = new ClickHouseParameterCollection { new ClickHouseDbParameter { ParameterName = "id", Value = id } };
        return (await client.ExecuteScalarAsync(sql, parameters, null, CancellationToken.None))?.ToString();
    }
}
