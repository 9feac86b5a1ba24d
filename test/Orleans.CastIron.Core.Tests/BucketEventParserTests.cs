namespace Orleans.CastIron.Core.Tests;

public class BucketEventParserTests
{
    // The shape MinIO publishes on castiron_etl_source_file (seed-spec F-04).
    private const string RenamedCopy = """
        {"EventName":"s3:ObjectCreated:Copy","Key":"etl/01_inbox/7460-my test.csv",
         "Records":[{"eventVersion":"2.0","eventName":"s3:ObjectCreated:Copy",
           "requestParameters":{"sourceIPAddress":"172.18.0.1"},
           "s3":{"bucket":{"name":"etl"},
                 "object":{"key":"01_inbox%2F7460-my+test.csv","size":5628,"eTag":"\"d41d8cd9\"","contentType":"text/csv",
                           "sequencer":"17A1B2C3",
                           "userMetadata":{"content-type":"text/csv","X-Amz-Meta-Id":"7460","X-Amz-Meta-Originalfilename":"my test.csv"}}}}]}
        """;

    private static BucketEvent Parse(string json)
    {
        Assert.True(BucketEventParser.TryParse(json, out var parsed, out var error), error?.Message);
        return parsed!;
    }

    private static BucketEventParseError Fail(string json)
    {
        Assert.False(BucketEventParser.TryParse(json, out var parsed, out var error));
        Assert.Null(parsed);
        return error!;
    }

    [Fact]
    public void MinioEvent_IsReadCompletely()
    {
        var e = Parse(RenamedCopy);

        Assert.Equal("s3:ObjectCreated:Copy", e.EventName);
        Assert.Equal(BucketEventKind.Created, e.Kind);
        Assert.Equal("etl", e.Bucket);
        Assert.Equal("01_inbox/7460-my test.csv", e.Key); // the top-level Key is already decoded: used as is
        Assert.Equal("etl/01_inbox/7460-my test.csv", e.ObjectId);
        Assert.Equal(5628, e.Size);
        Assert.Equal("d41d8cd9", e.ETag);
        Assert.Equal("text/csv", e.ContentType);
        Assert.Equal("17A1B2C3", e.Sequencer);
        Assert.Equal("172.18.0.1", e.SourceIpAddress);
        Assert.Equal("7460", e.UserMetadata["id"]);
        Assert.Equal("my test.csv", e.UserMetadata["originalfilename"]);
        Assert.False(e.UserMetadata.ContainsKey("content-type"));
    }

    [Fact]
    public void LowerCaseMetadataKeys_ReadTheSame()
    {
        var e = Parse(RenamedCopy
            .Replace("X-Amz-Meta-Id", "x-amz-meta-id", StringComparison.Ordinal)
            .Replace("X-Amz-Meta-Originalfilename", "x-amz-meta-originalfilename", StringComparison.Ordinal));

        Assert.Equal("7460", e.UserMetadata["id"]);
        Assert.Equal("my test.csv", e.UserMetadata["originalfilename"]);
    }

    [Theory]
    [InlineData("s3:ObjectCreated:Put", BucketEventKind.Created)]
    [InlineData("s3:ObjectCreated:CompleteMultipartUpload", BucketEventKind.Created)]
    [InlineData("s3:ObjectRemoved:Delete", BucketEventKind.Removed)]
    [InlineData("s3:ObjectRemoved:DeleteMarkerCreated", BucketEventKind.Removed)]
    [InlineData("ObjectCreated:Put", BucketEventKind.Created)] // Ceph RGW leaves out the "s3:" prefix
    public void EventName_GivesCreatedOrRemoved(string name, BucketEventKind kind)
    {
        Assert.Equal(kind, Parse($$"""{"EventName":"{{name}}","Key":"etl/01_inbox/a.csv"}""").Kind);
    }

    [Fact]
    public void AbsentRecords_GiveAnEventWithoutDetails()
    {
        var e = Parse("""{"EventName":"s3:ObjectCreated:Put","Key":"etl/01_inbox/a.csv"}""");

        Assert.Null(e.Size);
        Assert.Null(e.ETag);
        Assert.Empty(e.UserMetadata);
    }

    [Fact]
    public void WithoutTopLevelKey_TheRecordKeyIsUrlDecoded()
    {
        var e = Parse("""
            {"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"etl"},
              "object":{"key":"01_inbox/caf%C3%A9+50%25.csv","metadata":[{"key":"x-amz-meta-originalfilename","val":"x.csv"},{"key":"x-amz-date","val":"d"}]}}}]}
            """);

        Assert.Equal("etl", e.Bucket);
        Assert.Equal("01_inbox/café 50%.csv", e.Key);
        Assert.Equal("x.csv", e.UserMetadata["originalfilename"]);
        Assert.Single(e.UserMetadata);
    }

    [Fact]
    public void KeyIsSplitOnTheFirstSlashOnly()
    {
        var e = Parse("""{"EventName":"s3:ObjectCreated:Put","Key":"etl/a/b/c.csv"}""");

        Assert.Equal(("etl", "a/b/c.csv"), (e.Bucket, e.Key));
    }

    [Fact]
    public void NonStringMetadataValue_IsKeptAsJsonText()
    {
        var e = Parse("""{"EventName":"s3:ObjectCreated:Put","Key":"etl/a.csv","Records":[{"s3":{"object":{"userMetadata":{"X-Amz-Meta-Classification":{"classification":"U"}}}}}]}""");

        Assert.Equal("""{"classification":"U"}""", e.UserMetadata["classification"]);
    }

    [Theory]
    [InlineData("not json", BucketEventErrorCode.MalformedJson)]
    [InlineData("[1,2]", BucketEventErrorCode.MalformedJson)]
    [InlineData("{\"Key\":\"etl/a.csv\"}", BucketEventErrorCode.MissingField)]
    [InlineData("{\"EventName\":\"s3:ObjectCreated:Put\"}", BucketEventErrorCode.MissingField)]
    [InlineData("{\"EventName\":5,\"Key\":\"etl/a.csv\"}", BucketEventErrorCode.MissingField)]
    [InlineData("{\"EventName\":\"s3:ObjectAccessed:Get\",\"Key\":\"etl/a.csv\"}", BucketEventErrorCode.UnsupportedEvent)]
    [InlineData("{\"EventName\":\"s3:ObjectCreated:Put\",\"Key\":\"nobucket\"}", BucketEventErrorCode.InvalidKey)]
    [InlineData("{\"EventName\":\"s3:ObjectCreated:Put\",\"Key\":\"etl/\"}", BucketEventErrorCode.InvalidKey)]
    [InlineData("{\"EventName\":\"s3:ObjectCreated:Put\",\"Key\":\"etl/../secret\"}", BucketEventErrorCode.InvalidKey)]
    [InlineData("{\"EventName\":\"s3:ObjectCreated:Put\",\"Key\":\"etl//abs\"}", BucketEventErrorCode.InvalidKey)]
    public void MalformedInput_GivesATypedError(string json, BucketEventErrorCode code)
    {
        var error = Fail(json);

        Assert.Equal(code, error.Code);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Fact]
    public void Utf8Overload_ReadsTheSame()
    {
        Assert.True(BucketEventParser.TryParse(System.Text.Encoding.UTF8.GetBytes(RenamedCopy), out var e, out _));
        Assert.Equal("01_inbox/7460-my test.csv", e!.Key);
        Assert.False(BucketEventParser.TryParse([0xff, 0xfe, 0x00], out _, out var error));
        Assert.Equal(BucketEventErrorCode.MalformedJson, error!.Code);
    }
}

public class SkipRulesTests
{
    [Theory]
    [InlineData("example_config.toml", EventRoute.ProcessorConfig)]
    [InlineData("proj/cfg.toml", EventRoute.ProcessorConfig)]
    [InlineData("01_inbox/report.toml.csv", EventRoute.DataFile)] // the seed routed this to the registry and lost it
    [InlineData("01_inbox/.keep", EventRoute.Ignored)]
    [InlineData(".keep", EventRoute.Ignored)]
    [InlineData("01_inbox/x.keep", EventRoute.DataFile)]
    [InlineData("04_failed/u-a_csv_error_log_.txt", EventRoute.Ignored)]
    [InlineData("01_inbox/test.csv", EventRoute.DataFile)]
    [InlineData("01_inbox/CONFIG.TOML", EventRoute.DataFile)] // suffixes are case-sensitive, as in the seed
    public void RouteOnSuffix(string key, EventRoute route)
    {
        Assert.Equal(route, SkipRules.Route(key));
    }

    [Fact]
    public void StatusMetadata_DoesNotHideAFile()
    {
        var e = new BucketEvent
        {
            EventName = "s3:ObjectCreated:Put",
            Bucket = "etl",
            Key = "01_inbox/test.csv",
            UserMetadata = ImmutableDictionary<string, string>.Empty.Add("status", "Complete"),
        };

        Assert.Equal(EventRoute.DataFile, SkipRules.Route(e));
    }

    // Captured from radosgw 16.2.15 (keys as uploaded: not URL-encoded; metadata as a {key,val} list).
    private const string CephRecord = """
        {"eventVersion":"2.2","eventSource":"ceph:s3","awsRegion":"","eventTime":"2026-11-28T12:35:06.239935Z","eventName":"ObjectCreated:Put",
         "requestParameters":{"sourceIPAddress":""},
         "s3":{"configurationId":"etl_file_upload_notification","bucket":{"name":"etl"},
               "object":{"key":"01_inbox/a+b %41 ü.csv","size":2,"eTag":"0cb988d042a7f28dd5fe2b55b3f5ac7a","versionId":"","sequencer":"7ACA0A6B7240660E",
                         "metadata":[{"key":"x-amz-meta-originalfilename","val":"a.csv"},{"key":"x-amz-content-sha256","val":"UNSIGNED-PAYLOAD"}],"tags":[]}}}
        """;

    [Fact]
    public void CephRecord_KeepsItsRawKey_AndReadsListMetadataWithoutStrayHeaders()
    {
        var results = BucketEventParser.ParseAll(System.Text.Encoding.UTF8.GetBytes($$"""{"Records":[{{CephRecord}}]}"""));
        var parsed = Assert.Single(results).Event;
        Assert.NotNull(parsed);
        Assert.Equal("01_inbox/a+b %41 ü.csv", parsed.Key);
        Assert.Equal("etl", parsed.Bucket);
        Assert.Equal(BucketEventKind.Created, parsed.Kind);
        Assert.Equal("0cb988d042a7f28dd5fe2b55b3f5ac7a", parsed.ETag);
        Assert.Equal(new Dictionary<string, string> { ["originalfilename"] = "a.csv" }, parsed.UserMetadata);
    }

    [Fact]
    public void AwsRecord_KeyIsUrlDecoded()
    {
        const string aws = """{"Records":[{"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"etl"},"object":{"key":"01_inbox/a+b%2Bc%C3%BC.csv"}}}]}""";
        var parsed = Assert.Single(BucketEventParser.ParseAll(System.Text.Encoding.UTF8.GetBytes(aws))).Event;
        Assert.Equal("01_inbox/a b+cü.csv", parsed!.Key);
        Assert.Equal(BucketEventKind.Removed, parsed.Kind);
    }

    [Fact]
    public void SeveralRecords_GiveOneResultEach_AndABadRecordDoesNotHideTheOthers()
    {
        const string hostile = """{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"etl"},"object":{"key":"../escape.csv"}}}""";
        var body = "{\"Records\":[" + CephRecord + "," + hostile + "," + CephRecord.Replace("a+b %41 ü.csv", "second.csv", StringComparison.Ordinal) + "]}";
        var results = BucketEventParser.ParseAll(System.Text.Encoding.UTF8.GetBytes(body));
        Assert.Equal(3, results.Count);
        Assert.Equal("01_inbox/a+b %41 ü.csv", results[0].Event!.Key);
        Assert.Equal(BucketEventErrorCode.InvalidKey, results[1].Error!.Code);
        Assert.Equal("01_inbox/second.csv", results[2].Event!.Key);
    }

    [Fact]
    public void ParseAll_NeverThrows_OnGarbage()
    {
        Assert.Equal(BucketEventErrorCode.MalformedJson, Assert.Single(BucketEventParser.ParseAll("not json"u8)).Error!.Code);
        Assert.Equal(BucketEventErrorCode.MalformedJson, Assert.Single(BucketEventParser.ParseAll("[1,2]"u8)).Error!.Code);
        Assert.Equal(BucketEventErrorCode.MissingField, Assert.Single(BucketEventParser.ParseAll("""{"Records":[]}"""u8)).Error!.Code);
    }
}
