using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Orleans.CastIron.Silo.Tests;

[Collection(SiloCollection.Name)]
public class ApiTests(SiloFixture silo)
{
    private HttpClient Http => silo.Http;

    private static string Seed(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "examples", name));

    private async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task<JsonElement> WaitForFileAsync(string originalName, string status)
    {
        JsonElement file = default;
        await SiloFixture.WaitUntilAsync(async () =>
        {
            var files = await GetJsonAsync("/files");
            file = files.EnumerateArray().FirstOrDefault(f => f.GetProperty("original_filename").GetString() == originalName);
            return file.ValueKind == JsonValueKind.Object && file.GetProperty("status").GetString() == status;
        }, () => $"{originalName} to be {status}");
        return file;
    }

    /// <summary>Registers a shell config (inbox <c>in</c>, pattern <c>.dat</c>) and runs one file through it.</summary>
    private async Task<JsonElement> RegisterAndProcessAsync(string folder, string fileName)
    {
        await silo.DropAsync($"{folder}/cfg.toml", """
            [castiron.etl]
            enabled = true
            handled_file_glob = ".dat"
            inbox_dir = "in"
            processing_dir = "work"
            archive_dir = "done"
            error_dir = "failed"
            save_error_log = true
            shell = "true"
            """);
        await SiloFixture.WaitUntilAsync(() => Task.FromResult(File.Exists(Path.Combine(silo.BucketPath, folder, "in", ".keep"))), () => "stage folders");
        await silo.DropAsync($"{folder}/in/{fileName}", "x");
        return await WaitForFileAsync(fileName, "Complete");
    }

    private static HttpRequestMessage Post(string path, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path);
        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }

        return request;
    }

    [Fact]
    public async Task Health_AnswersLikeTheSeed()
    {
        Assert.Equal("Running", (await GetJsonAsync("/manager/health")).GetProperty("message").GetString());
    }

    [Fact]
    public async Task QuickStart_SeedExampleAndCsv_AreProcessed_AndQueryable()
    {
        await silo.DropAsync("example_config.toml", Seed("example_config.toml"));
        await SiloFixture.WaitUntilAsync(() => Task.FromResult(File.Exists(Path.Combine(silo.BucketPath, "01_inbox", ".keep"))), () => "stage folders");
        await silo.DropAsync("01_inbox/test.csv", Seed("test.csv"));

        var file = await WaitForFileAsync("test.csv", "Complete");
        var id = file.GetProperty("id").GetString()!;
        Assert.Equal($"03_archive/{id}-test.csv", file.GetProperty("file_name").GetString());
        Assert.True(File.Exists(Path.Combine(silo.BucketPath, "03_archive", $"{id}-test.csv")));

        var byId = await GetJsonAsync($"/files/{id}");
        Assert.Equal("Complete", byId.GetProperty("status").GetString());
        Assert.Equal(["Queued", "Processing", "Complete"], byId.GetProperty("transitions").EnumerateArray().Select(t => t.GetProperty("status").GetString()));

        var complete = await GetJsonAsync("/files?status=Complete");
        Assert.Contains(complete.EnumerateArray(), f => f.GetProperty("id").GetString() == id);

        var jobId = byId.GetProperty("job_id").GetString()!;
        using var events = await Http.GetAsync($"/jobs/{jobId}/events");
        var text = await events.Content.ReadAsStringAsync();
        Assert.Equal(
            $$"""[{"type":"job_created","job_id":"{{jobId}}","filename":"{{id}}-test.csv","handler":"example_config.toml","uploader":"castiron"},{"type":"job_update","job_id":"{{jobId}}","task":"etl.example.example_text_processor.process runs as the built-in .NET stand-in"},{"type":"job_update","job_id":"{{jobId}}","committed":91},{"type":"job_update","job_id":"{{jobId}}","status":"success"}]""",
            text);

        var processors = await GetJsonAsync("/processors");
        var example = processors.EnumerateArray().Single(p => p.GetProperty("config_key").GetString() == "example_config.toml");
        Assert.True(example.GetProperty("registered").GetBoolean());
        Assert.Equal("text/csv", example.GetProperty("config").GetProperty("handled_mimetypes")[0].GetString());

        // Other tests of this collection complete files too (one at a time): the count is exactly the listed ones.
        var status = (await GetJsonAsync("/manager/status")).GetProperty("message");
        var completeNow = await GetJsonAsync("/files?status=Complete&limit=100000");
        Assert.Equal(completeNow.GetArrayLength(), status.GetProperty("jobs").GetProperty("Complete").GetInt32());
        Assert.Contains(completeNow.EnumerateArray(), f => f.GetProperty("id").GetString() == id);
        Assert.Equal("running", status.GetProperty("intake").GetString());
        Assert.Single(status.GetProperty("silos").EnumerateArray());
    }

    [Fact]
    public async Task MutatingRoutes_RequireTheApiKey()
    {
        using var withoutKey = await Http.SendAsync(Post("/files/abc/cancel", null));
        using var wrongKey = await Http.SendAsync(Post("/files/abc/retry", "nope"));
        using var seedRoute = await Http.GetAsync("/manager/cancel-record/abc");
        using var withKey = await Http.SendAsync(Post("/files/abc/cancel", SiloFixture.ApiKey));

        Assert.Equal(HttpStatusCode.Unauthorized, withoutKey.StatusCode);
        Assert.Contains("X-Api-Key", await withoutKey.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongKey.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, seedRoute.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, withKey.StatusCode);
        Assert.Contains("no file with id 'abc'", await withKey.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CancelOfACompleteFile_IsRefusedWithItsStatus()
    {
        var id = (await RegisterAndProcessAsync("api-cancel", "x.dat")).GetProperty("id").GetString();

        using var cancel = await Http.SendAsync(Post($"/files/{id}/cancel", SiloFixture.ApiKey));
        using var seedCancel = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"/manager/cancel-record/{id}") { Headers = { { "X-Api-Key", SiloFixture.ApiKey } } });

        Assert.Equal(HttpStatusCode.Conflict, cancel.StatusCode);
        var body = await cancel.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(body.GetProperty("accepted").GetBoolean());
        Assert.Equal("Complete", body.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Conflict, seedCancel.StatusCode);
    }

    [Fact]
    public async Task StopAndStartConsumers_PauseAndResumeIntake()
    {
        var request = (string path) => new HttpRequestMessage(HttpMethod.Get, path) { Headers = { { "X-Api-Key", SiloFixture.ApiKey } } };
        // A file processed end to end proves the registration (which wakes files already in the inbox) is over.
        await RegisterAndProcessAsync("api-pause", "before.dat");

        using var stop = await Http.SendAsync(request("/manager/stop-consumers"));
        Assert.Equal("Successfully Stopped all workers!", await stop.Content.ReadFromJsonAsync<string>());
        using var stopAgain = await Http.SendAsync(request("/manager/stop-consumers"));
        Assert.Equal(HttpStatusCode.Conflict, stopAgain.StatusCode);
        Assert.Equal("paused", (await GetJsonAsync("/manager/status")).GetProperty("message").GetProperty("intake").GetString());

        await silo.DropAsync("api-pause/in/paused.dat", "x");
        // Until a running intake would surely have taken it: settled, then two full scans (250 ms each, 100 ms settle).
        var dropped = File.GetLastWriteTimeUtc(Path.Combine(silo.BucketPath, "api-pause", "in", "paused.dat"));
        await SiloFixture.WaitUntilAsync(() => Task.FromResult(DateTime.UtcNow - dropped > TimeSpan.FromMilliseconds(100 + (2 * 250) + 200)), () => "three scan intervals");
        Assert.True(File.Exists(Path.Combine(silo.BucketPath, "api-pause", "in", "paused.dat")));

        var resumedAt = DateTimeOffset.UtcNow;
        using var start = await Http.SendAsync(request("/manager/start-consumers"));
        Assert.Equal("Successfully started all workers!", await start.Content.ReadFromJsonAsync<string>());
        var file = await WaitForFileAsync("paused.dat", "Complete");
        // Taken only once resumed, not at some moment of the pause after the check above.
        var queuedAt = file.GetProperty("transitions")[0].GetProperty("at").GetDateTimeOffset();
        Assert.True(queuedAt >= resumedAt, $"queued at {queuedAt:O}, resumed at {resumedAt:O}");
        using var startAgain = await Http.SendAsync(request("/manager/start-consumers"));
        Assert.Equal(HttpStatusCode.Conflict, startAgain.StatusCode);
    }

    [Fact]
    public async Task BadQueries_GetClearErrors()
    {
        using var badStatus = await Http.GetAsync("/files?status=Done");
        using var badLimit = await Http.GetAsync("/files?limit=0");
        using var unknownFile = await Http.GetAsync("/files/nope");
        using var unknownJob = await Http.GetAsync("/jobs/nope/events");

        Assert.Equal(HttpStatusCode.BadRequest, badStatus.StatusCode);
        Assert.Contains("'Done' is not a status", await badStatus.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, badLimit.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknownFile.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknownJob.StatusCode);
    }

    [Fact]
    public async Task ValidateRoute_ReportsErrorsWithPositions()
    {
        using var response = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/processors/validate?name=mine.toml")
        {
            Content = new StringContent("[castiron.etl]\nenabled = \"maybe\"\n"),
            Headers = { { "X-Api-Key", SiloFixture.ApiKey } },
        });

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Contains(errors.EnumerateArray(), e => e.GetProperty("key").GetString() == "castiron.etl.enabled" && e.GetProperty("line").GetInt32() == 2);
    }

    [Fact]
    public async Task SeedStyleConfig_IsListedWithItsWarnings_AndTheValidateRouteAnswersThem()
    {
        const string config = """
            [castiron.etl]
            enabled = "yes"
            handled_file_glob = ".dat"
            inbox_dir = "in"
            processing_dir = "work"
            archive_dir = "done"
            error_dir = "failed"
            save_error_log = true
            colour = "blue"
            shell = "true"
            """;
        string[] expected =
        [
            "WrongType castiron.etl.enabled (2,11) \"yes\" is a string, not a boolean: read as true, as the seed would; write enabled = true",
            "UnknownKey castiron.etl.colour (9,1) unknown key 'colour' in [castiron.etl]: ignored, as the seed did; expected one of: archive_dir, canceled_dir, dotnet, enabled, error_dir, handled_file_glob, handled_mimetypes, inbox_dir, max_attempts, max_concurrency, processing_dir, python, save_error_log, shell, timeout_seconds",
        ];
        static string[] Shown(JsonElement problems) => [.. problems.EnumerateArray().Select(w =>
            $"{w.GetProperty("code").GetString()} {w.GetProperty("key").GetString()} ({w.GetProperty("line").GetInt32()},{w.GetProperty("column").GetInt32()}) {w.GetProperty("message").GetString()}")];

        await silo.DropAsync("seedstyle/cfg.toml", config);
        JsonElement entry = default;
        await SiloFixture.WaitUntilAsync(async () =>
        {
            entry = (await GetJsonAsync("/processors")).EnumerateArray().FirstOrDefault(p => p.GetProperty("config_key").GetString() == "seedstyle/cfg.toml");
            return entry.ValueKind == JsonValueKind.Object;
        }, () => "seedstyle/cfg.toml to be listed");

        Assert.True(entry.GetProperty("registered").GetBoolean());
        Assert.Equal(0, entry.GetProperty("errors").GetArrayLength());
        Assert.Equal(expected, Shown(entry.GetProperty("warnings")));

        using var response = await Http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/processors/validate?name=cfg.toml")
        {
            Content = new StringContent(config),
            Headers = { { "X-Api-Key", SiloFixture.ApiKey } },
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(answer.GetProperty("is_valid").GetBoolean());
        Assert.Equal(expected, Shown(answer.GetProperty("warnings")));
    }

    [Fact]
    public async Task OpenApiDocument_ListsTheRoutes()
    {
        var document = await GetJsonAsync("/openapi/v1.json");
        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();

        Assert.Contains("/manager/health", paths);
        Assert.Contains("/files/{id}/cancel", paths);
        Assert.Contains("/jobs/{jobId}/events", paths);
    }

    [Fact]
    public async Task SeedCancelRoute_OpenApiAndReadmeAgree_TheSegmentIsTheFileId()
    {
        var document = await GetJsonAsync("/openapi/v1.json");
        var readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "README.md"));

        var route = document.GetProperty("paths").GetProperty("/manager/cancel-record/{filename}").GetProperty("get");
        Assert.Contains("file id", route.GetProperty("summary").GetString(), StringComparison.Ordinal);
        var row = Assert.Single(readme.Split('\n'), l => l.Contains("/manager/cancel-record/", StringComparison.Ordinal) && l.StartsWith('|'));
        Assert.Contains("`GET /manager/cancel-record/{filename}`", row, StringComparison.Ordinal);
        Assert.Contains("file id", row, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dashboard_IsServed()
    {
        using var response = await Http.GetAsync("/dashboard/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
