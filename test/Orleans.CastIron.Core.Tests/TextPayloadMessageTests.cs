using System.Text;
using Xunit.Abstractions;

namespace Orleans.CastIron.Core.Tests;

public class TextPayloadMessageTests(ITestOutputHelper output)
{
    private static TextPayloadMessage Parse(string json)
    {
        Assert.True(TextPayloadMessage.TryParse(Encoding.UTF8.GetBytes(json), out var message, out var error), error);
        return message!;
    }

    private static string Fail(byte[] utf8Json)
    {
        Assert.False(TextPayloadMessage.TryParse(utf8Json, out var message, out var error));
        Assert.Null(message);
        return error!;
    }

    private static string Fail(string json) => Fail(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void TheSeedsExample_GivesHandlerDataAndArguments()
    {
        var message = Parse("""{"worker_run_method": "etl.example.process", "data": "{\"field1\": 1}", "arg1": "test", "arg2": {"n": 2}}""");

        Assert.Equal("etl.example.process", message.WorkerRunMethod);
        Assert.Equal("{\"field1\": 1}", message.DataText);
        Assert.Equal("{\"field1\": 1}"u8.ToArray(), message.DataUtf8.ToArray());
        Assert.Equal(["arg1", "arg2"], message.Arguments.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("test", message.Arguments["arg1"].GetString());
        Assert.Equal(2, message.Arguments["arg2"].GetProperty("n").GetInt32());
    }

    [Theory]
    [InlineData("""{"worker_run_method":"h","data":{"a": [1, 2]}}""", """{"a": [1, 2]}""")]
    [InlineData("""{"worker_run_method":"h","data":[true,null]}""", "[true,null]")]
    [InlineData("""{"worker_run_method":"h","data":12.50}""", "12.50")]
    [InlineData("""{"worker_run_method":"h","data":null}""", "null")]
    [InlineData("""{"worker_run_method":"h","data":"caf\u00e9 \"q\" \ud83c\udf55"}""", "café \"q\" 🍕")]
    [InlineData("""{"worker_run_method":"h","data":"plain"}""", "plain")]
    [InlineData("""{"data":"first","worker_run_method":"h","data":"last"}""", "last")]
    public void Data_IsAStringsValue_OrTheJsonTextOfAnyOtherValue(string json, string expected)
    {
        var message = Parse(json);

        Assert.Equal(expected, message.DataText);
        Assert.Equal(Encoding.UTF8.GetBytes(expected), message.DataUtf8.ToArray());
    }

    [Fact]
    public void Arguments_OutliveTheBytesTheyWereReadFrom()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"worker_run_method":"h","data":"d","arg1":"kept"}""");
        Assert.True(TextPayloadMessage.TryParse(bytes, out var message, out _));

        Array.Fill(bytes, (byte)' ');

        Assert.Equal("kept", message!.Arguments["arg1"].GetString());
    }

    [Theory]
    [InlineData("this is not json", "not valid JSON")]
    [InlineData("", "not valid JSON")]
    [InlineData("""{"worker_run_method":"h","data":"d"} trailing""", "not valid JSON")]
    [InlineData("""{"worker_run_method":"h","data":"d" """, "not valid JSON")]
    [InlineData("""[{"worker_run_method":"h","data":"d"}]""", "a JSON Array, not an object")]
    [InlineData("\"text\"", "a JSON String, not an object")]
    [InlineData("""{"data":"d"}""", "'worker_run_method' is missing or not a non-empty string")]
    [InlineData("""{"worker_run_method":" ","data":"d"}""", "'worker_run_method' is missing or not a non-empty string")]
    [InlineData("""{"worker_run_method":{"x":1},"data":"d"}""", "'worker_run_method' is missing or not a non-empty string")]
    [InlineData("""{"worker_run_method":"h"}""", "'data' is missing")]
    [InlineData("""{"worker_run_method":"h","data":"\ud800"}""", "'data' is not valid UTF-8 text")]
    public void BadMessages_AreRefused_WithTheReason(string json, string reason) =>
        Assert.Contains(reason, Fail(json), StringComparison.Ordinal);

    [Fact]
    public void DataThatIsNotUtf8_IsRefused_InsteadOfFailingTheHandler()
    {
        var json = Encoding.UTF8.GetBytes("""{"worker_run_method":"h","data":"xx"}""");
        json[^3] = 0xC3; // a lead byte followed by an ASCII byte

        Assert.Contains("'data' is not valid UTF-8 text", Fail(json), StringComparison.Ordinal);
    }

    [Fact]
    public void AFieldNameThatIsNotUtf8_IsRefused()
    {
        var json = Encoding.UTF8.GetBytes("""{"worker_run_method":"h","data":"d","ax":1}""");
        json[^5] = 0xC3;

        Assert.Contains("not valid UTF-8 JSON", Fail(json), StringComparison.Ordinal);
    }

    [Fact]
    public void AVideoSizedPayload_IsReadInPlace_ItsTextBeingTheOnlyCopy()
    {
        // The shape of a video payload: megabytes of base64 in "data".
        var data = new string('v', 4 * 1024 * 1024);
        var json = Encoding.UTF8.GetBytes($$"""{"worker_run_method":"video.handler","data":"{{data}}","frame":7}""");

        long Allocated()
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            Assert.True(TextPayloadMessage.TryParse(json, out var message, out _));
            Assert.Equal(data.Length, message!.DataText.Length);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }

        // The least of three, so a one-off (a pool filling up, a first call) does not count.
        var allocated = Enumerable.Range(0, 3).Select(_ => Allocated()).Min();
        var text = 2L * data.Length; // the one copy handlers reading Data need: UTF-16

        output.WriteLine($"{json.Length:N0}-byte payload: {allocated:N0} bytes allocated, {allocated - text:N0} besides the text");
        Assert.True(allocated - text < json.Length / 16, $"reading a {json.Length:N0}-byte payload allocated {allocated - text:N0} bytes besides its text");
    }
}
