using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Orleans.CastIron.Silo.Tests;

/// <summary>What an attacker sends: no or wrong keys, oversized bodies, traversal ids, malformed queries.</summary>
[Collection(SiloCollection.Name)]
public class ApiAbuseTests(SiloFixture silo)
{
    private const int OneMebibyte = 1024 * 1024;

    private HttpClient Http => silo.Http;

    /// <summary>Every route that changes something, with the method it answers to.</summary>
    public static TheoryData<string, string> MutatingRoutes => new()
    {
        { "POST", "/files/abc/cancel" },
        { "POST", "/files/abc/retry" },
        { "GET", "/manager/start-consumers" },
        { "GET", "/manager/stop-consumers" },
        { "GET", "/manager/cancel-record/abc" },
        { "POST", "/processors/validate" },
    };

    private static HttpRequestMessage Request(string method, string path, string? key, HttpContent? content = null)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = content };
        if (key is not null)
        {
            request.Headers.TryAddWithoutValidation("X-Api-Key", key);
        }

        return request;
    }

    private static async Task<JsonElement> JsonBodyAsync(HttpResponseMessage response)
    {
        Assert.StartsWith("application/", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        Assert.EndsWith("json", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Theory]
    [MemberData(nameof(MutatingRoutes))]
    public async Task MutatingRoutes_WithoutTheKey_OrWithAWrongOne_AreRefused(string method, string path)
    {
        // (Surrounding spaces are not a wrong key: HTTP trims them from header values.)
        foreach (var key in new[] { null, "", "nope", SiloFixture.ApiKey.ToUpperInvariant(), SiloFixture.ApiKey[..^1], SiloFixture.ApiKey + "x" })
        {
            using var response = await Http.SendAsync(Request(method, path, key, new StringContent("[castiron.etl]")));

            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{method} {path} with key '{key}': {response.StatusCode}");
            Assert.Contains("X-Api-Key", (await JsonBodyAsync(response)).GetProperty("message").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Validate_WithTheKey_StillWorks()
    {
        using var response = await Http.SendAsync(Request("POST", "/processors/validate?name=x.toml", SiloFixture.ApiKey, new StringContent("[castiron.etl]\nenabled = \"yes\"\n")));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
    }

    [Fact]
    public async Task Validate_ABodyOverOneMebibyte_Is413WithAJsonMessage()
    {
        using var declared = await Http.SendAsync(Request("POST", "/processors/validate", SiloFixture.ApiKey, new ByteArrayContent(new byte[OneMebibyte + 1])));
        // Chunked: no length announced, so the limit holds while reading.
        using var chunked = await Http.SendAsync(Request("POST", "/processors/validate", SiloFixture.ApiKey, new StreamContent(new MemoryStream(new byte[10 * OneMebibyte]))));

        foreach (var response in new[] { declared, chunked })
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            Assert.Contains("1048576 bytes", (await JsonBodyAsync(response)).GetProperty("message").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Validate_ABodyOfExactlyOneMebibyte_IsValidated()
    {
        var config = "[castiron.etl]\nenabled = \"yes\"\n";
        var padding = new string('#', OneMebibyte - Encoding.UTF8.GetByteCount(config) - 1) + "\n";

        using var response = await Http.SendAsync(Request("POST", "/processors/validate", SiloFixture.ApiKey, new StringContent(config + padding)));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
    }

    [Theory]
    [InlineData("[castiron.etl.python]\nworker_run_method = \"a\"\n[castiron.etl.python.environment_kwargs]\n", "errors")] // each k = 1 a wrong type
    [InlineData("", "warnings")] // each k = 1 an unknown key
    public async Task Validate_AProblemListLargerThanItsInput_IsCapped(string tables, string list)
    {
        var text = "[castiron.etl]\n" + tables + string.Concat(Enumerable.Range(0, 50_000).Select(i => $"k{i}=1\n"));

        using var response = await Http.SendAsync(Request("POST", "/processors/validate", SiloFixture.ApiKey, new StringContent(text)));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var problems = (await JsonBodyAsync(response)).GetProperty(list);
        Assert.Equal(101, problems.GetArrayLength());
        Assert.Contains($"more {list}", problems[100].GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("POST", "/files/..%2F..%2Fetc/cancel")]
    [InlineData("POST", "/files/..%2F..%2Fetc%2Fpasswd/retry")]
    [InlineData("GET", "/manager/cancel-record/..%2F..%2Fetc%2Fshadow")]
    public async Task TraversalIds_AreUnknownFiles_WithAJsonAnswer(string method, string path)
    {
        using var response = await Http.SendAsync(Request(method, path, SiloFixture.ApiKey));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("no file with id", (await JsonBodyAsync(response)).GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("POST", "/files/%2e%2e/cancel")]
    [InlineData("GET", "/no/such/route")]
    [InlineData("DELETE", "/files/abc")]
    public async Task RequestsNoRouteTakes_GetAJsonAnswerToo(string method, string path)
    {
        using var response = await Http.SendAsync(Request(method, path, SiloFixture.ApiKey));

        Assert.True(response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed, response.StatusCode.ToString());
        Assert.False(string.IsNullOrEmpty((await JsonBodyAsync(response)).GetProperty("message").GetString()));
    }

    [Theory]
    [InlineData("/files/..%2F..%2Fetc%2Fpasswd")]
    [InlineData("/jobs/..%2F..%2Fetc/events")]
    public async Task TraversalIds_OnReadingRoutes_AreNotFound(string path)
    {
        using var response = await Http.GetAsync(path);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        await JsonBodyAsync(response);
    }

    [Theory]
    [InlineData("/files?limit=abc")]
    [InlineData("/files?limit=1e3")]
    [InlineData("/files?limit=99999999999999999999")]
    [InlineData("/files?limit=0")]
    [InlineData("/files?limit=-1")]
    public async Task MalformedLimits_Are400WithAJsonMessage(string path)
    {
        using var response = await Http.GetAsync(path);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("limit", (await JsonBodyAsync(response)).GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnOversizedBody_OnARouteThatTakesNone_IsNotAServerError()
    {
        using var response = await Http.SendAsync(Request("POST", "/files/abc/cancel", SiloFixture.ApiKey, new ByteArrayContent(new byte[8 * OneMebibyte])));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
