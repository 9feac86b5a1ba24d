using System.Text.Json;
using CsCheck;
using Orleans.CastIron.Paths;
using Xunit.Abstractions;

namespace Orleans.CastIron.Core.Tests.Fuzz;

public class BucketEventFuzzTests(ITestOutputHelper output)
{
    /// <summary>Keys as users name files: ordinary, with spaces and Unicode, and hostile.</summary>
    private static readonly Gen<string> Key = Gen.OneOf(
        Gen.OneOf("01_inbox/test.csv", "a/b c.csv", "données/é.csv", "x+y%z.csv", "../etc/passwd", "a//b", "/abs", "a\nb", "a\\b", ".", "日本/😀"),
        Gen.OneOf("a", "b", "/", ".", "%", "%2F", "+", " ", "\n", "\\", "é", "😀", "-", "_").Array[0, 12].Select(string.Concat));

    private static readonly Gen<Dictionary<string, string>> Metadata = Gen.Select(
            Gen.OneOf("X-Amz-Meta-Id", "x-amz-meta-originalfilename", "content-type", "X-Amz-Meta-", "other"),
            Gen.String[0, 10])
        .Array[0, 4]
        .Select(pairs => pairs.DistinctBy(p => p.Item1).ToDictionary(p => p.Item1, p => p.Item2));

    private sealed record Event(bool Minio, string EventName, string Bucket, string Key, long Size, Dictionary<string, string> Metadata);

    private static readonly Gen<Event> Events = Gen.Select(
        Gen.Bool,
        Gen.OneOf("s3:ObjectCreated:Put", "s3:ObjectCreated:Copy", "s3:ObjectRemoved:Delete", "ObjectCreated:Post", "s3:ObjectAccessed:Get", ""),
        Gen.OneOf("etl", "e", ""),
        Key,
        Gen.Long[-1, long.MaxValue],
        Metadata,
        (minio, name, bucket, key, size, metadata) => new Event(minio, name, bucket, key, size, metadata));

    /// <summary>MinIO's shape (top-level EventName and decoded Key) or plain S3's (only Records, key URL-encoded).</summary>
    private static string Json(Event e)
    {
        var record = new Dictionary<string, object?>
        {
            ["eventName"] = e.EventName,
            ["requestParameters"] = new { sourceIPAddress = "10.0.0.1" },
            ["s3"] = new
            {
                bucket = new { name = e.Bucket },
                @object = new { key = Uri.EscapeDataString(e.Key), size = e.Size, eTag = "\"e\"", userMetadata = e.Metadata },
            },
        };
        object document = e.Minio
            ? new Dictionary<string, object?> { ["EventName"] = e.EventName, ["Key"] = $"{e.Bucket}/{e.Key}", ["Records"] = new[] { record } }
            : new Dictionary<string, object?> { ["Records"] = new[] { record } };
        return JsonSerializer.Serialize(document);
    }

    private static void ParsesToEventOrTypedError(string json)
    {
        var parsed = BucketEventParser.TryParse(json, out var bucketEvent, out var error);

        if (parsed)
        {
            Assert.Null(error);
            Assert.NotNull(bucketEvent);
            Assert.Null(ObjectKeys.Validate(bucketEvent.Key));
            Assert.NotEmpty(bucketEvent.Bucket);
            Assert.True(bucketEvent.Kind is BucketEventKind.Created or BucketEventKind.Removed);
        }
        else
        {
            Assert.Null(bucketEvent);
            Assert.NotNull(error);
            Assert.True(Enum.IsDefined(error.Code));
            Assert.NotEmpty(error.Message);
        }

        // The webhook's reader holds to the same rule for every record of a body.
        foreach (var (each, problem) in BucketEventParser.ParseAll(System.Text.Encoding.UTF8.GetBytes(json)))
        {
            Assert.True(each is null != problem is null);
            Assert.True(each is null || ObjectKeys.Validate(each.Key) is null);
        }
    }

    [Fact]
    public void WellFormedEvents_RoundTrip_OrAreRefusedForTheirKeyOrName()
    {
        Events.Sample(e =>
        {
            var parsed = BucketEventParser.TryParse(Json(e), out var bucketEvent, out var error);

            var created = e.EventName.Contains("ObjectCreated", StringComparison.Ordinal);
            var removed = e.EventName.Contains("ObjectRemoved", StringComparison.Ordinal);
            if (parsed)
            {
                Assert.True(created || removed);
                Assert.Equal(e.Bucket, bucketEvent!.Bucket);
                Assert.Equal(e.Key, bucketEvent.Key);
                Assert.Equal(e.Size, bucketEvent.Size);
                Assert.Equal(created ? BucketEventKind.Created : BucketEventKind.Removed, bucketEvent.Kind);
                foreach (var (name, value) in e.Metadata.Where(m => m.Key.StartsWith("x-amz-meta-", StringComparison.OrdinalIgnoreCase)))
                {
                    Assert.Equal(value, bucketEvent.UserMetadata[name[11..].ToLowerInvariant()]);
                }
            }
            else
            {
                Assert.True(!(created || removed) || e.Bucket.Length == 0 || e.Key.Length == 0 || ObjectKeys.Validate(e.Key) is not null, error!.ToString());
            }
        }, output.WriteLine, iter: FuzzGen.Iterations, print: Json);
    }

    [Fact]
    public void MutatedEvents_OnlyEverGiveAnEventOrTheTypedError()
    {
        Gen.SelectMany(Events.Array[1, 3], events => FuzzGen.Mutated([.. events.Select(Json)]))
            .Sample(ParsesToEventOrTypedError, output.WriteLine, iter: FuzzGen.Iterations);
    }

    [Fact]
    public void RandomText_OnlyEverGivesTheTypedError()
    {
        Gen.OneOf(FuzzGen.Noise, Gen.String, FuzzGen.Fragment.Array[0, 30].Select(string.Concat))
            .Sample(ParsesToEventOrTypedError, output.WriteLine, iter: FuzzGen.Iterations);
    }

    [Theory]
    [InlineData("{\"EventName\":\"\\ud800\",\"Key\":\"etl/a\"}")]
    [InlineData("{\"EventName\":\"s3:ObjectCreated:Put\",\"Key\":\"etl/\\udc00.csv\"}")]
    [InlineData("{\"EventName\":\"s3:ObjectCreated:Put\",\"Key\":\"etl/a\",\"Records\":[{\"s3\":{\"object\":{\"userMetadata\":{\"X-Amz-Meta-Id\":\"\\ud800\"}}}}]}")]
    public void LoneSurrogateEscapes_AreTheTypedError(string json)
    {
        ParsesToEventOrTypedError(json);
    }
}
