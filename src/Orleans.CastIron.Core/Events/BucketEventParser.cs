using System.Text.Json;

namespace Orleans.CastIron.Events;

/// <summary>Why a bucket notification could not be read.</summary>
public enum BucketEventErrorCode
{
    /// <summary>Not JSON, or not a JSON object.</summary>
    MalformedJson,

    /// <summary>A required field is absent or of the wrong type.</summary>
    MissingField,

    /// <summary>The event is neither an object-created nor an object-removed event.</summary>
    UnsupportedEvent,

    /// <summary>The object key is not one this system will act on (see <c>ObjectKeys.Validate</c>).</summary>
    InvalidKey,
}

/// <summary>A typed reason for refusing a bucket notification.</summary>
/// <param name="Code">The kind of problem.</param>
/// <param name="Message">What was wrong, naming the field.</param>
public sealed record BucketEventParseError(BucketEventErrorCode Code, string Message);

/// <summary>
/// Reads MinIO's bucket-notification JSON (seed-spec F-04): <c>EventName</c>, <c>Key</c> (<c>bucket/key</c>, already
/// decoded) and <c>Records[0]</c> (<c>s3.object.{key,size,eTag,contentType,userMetadata,sequencer}</c>,
/// <c>requestParameters.sourceIPAddress</c>). Plain S3 records without the top-level fields are read too: the bucket
/// from <c>s3.bucket.name</c> and <c>s3.object.key</c> (URL-encoded by AWS and MinIO, raw from Ceph RGW, whose
/// <c>eventSource</c> is <c>ceph:s3</c>).
/// </summary>
public static class BucketEventParser
{
    private const string MetaPrefix = "x-amz-meta-";

    /// <summary>Parses UTF-8 JSON; never throws for bad input.</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8Json, out BucketEvent? bucketEvent, out BucketEventParseError? error)
    {
        try
        {
            using var document = JsonDocument.Parse(utf8Json.ToArray());
            return TryParse(document.RootElement, out bucketEvent, out error);
        }
        catch (JsonException ex)
        {
            bucketEvent = null;
            error = new BucketEventParseError(BucketEventErrorCode.MalformedJson, $"not valid JSON: {ex.Message}");
            return false;
        }
    }

    /// <summary>Parses JSON text; never throws for bad input.</summary>
    public static bool TryParse(string json, out BucketEvent? bucketEvent, out BucketEventParseError? error)
    {
        ArgumentNullException.ThrowIfNull(json);
        return TryParse(System.Text.Encoding.UTF8.GetBytes(json), out bucketEvent, out error);
    }

    /// <summary>Parses an already-parsed JSON element; never throws for bad input.</summary>
    public static bool TryParse(JsonElement root, out BucketEvent? bucketEvent, out BucketEventParseError? error) =>
        TryParse(root, record: null, out bucketEvent, out error);

    /// <summary>
    /// Parses every event of a notification body: MinIO's (one event, top-level <c>EventName</c> and <c>Key</c>) or
    /// a standard S3 body whose <c>Records</c> may hold several (AWS, Ceph). Never throws for bad input; each record
    /// gives an event or the reason it was refused.
    /// </summary>
    public static IReadOnlyList<(BucketEvent? Event, BucketEventParseError? Error)> ParseAll(ReadOnlySpan<byte> utf8Json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8Json.ToArray());
        }
        catch (JsonException ex)
        {
            return [(null, new BucketEventParseError(BucketEventErrorCode.MalformedJson, $"not valid JSON: {ex.Message}"))];
        }

        using (document)
        {
            var root = document.RootElement;
            try
            {
                if (root.ValueKind == JsonValueKind.Object && Property(root, "EventName").ValueKind == JsonValueKind.Undefined
                    && Property(root, "Records") is { ValueKind: JsonValueKind.Array } records && records.GetArrayLength() > 1)
                {
                    return [.. records.EnumerateArray().Select(record => TryParse(root, record, out var e, out var error) ? (e, null) : ((BucketEvent?)null, error))];
                }
            }
            catch (InvalidOperationException ex)
            {
                return [(null, new BucketEventParseError(BucketEventErrorCode.MalformedJson, $"a string is not valid Unicode text: {ex.Message}"))];
            }

            return [TryParse(root, out var one, out var problem) ? (one, null) : (null, problem)];
        }
    }

    /// <param name="record">The record to read; null for the first of <c>Records</c>.</param>
    private static bool TryParse(JsonElement root, JsonElement? record, out BucketEvent? bucketEvent, out BucketEventParseError? error)
    {
        try
        {
            return TryRead(root, record ?? FirstRecord(root), out bucketEvent, out error);
        }
        catch (InvalidOperationException ex)
        {
            // Well-formed JSON can still hold a string that is not text: an escaped lone surrogate ("\ud800").
            bucketEvent = null;
            error = new BucketEventParseError(BucketEventErrorCode.MalformedJson, $"a string is not valid Unicode text: {ex.Message}");
            return false;
        }
    }

    private static bool TryRead(JsonElement root, JsonElement record, out BucketEvent? bucketEvent, out BucketEventParseError? error)
    {
        bucketEvent = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            error = new(BucketEventErrorCode.MalformedJson, $"expected a JSON object, found {root.ValueKind}");
            return false;
        }

        var s3 = Property(record, "s3");
        var obj = Property(s3, "object");

        var eventName = String(root, "EventName") ?? String(record, "eventName");
        if (string.IsNullOrEmpty(eventName))
        {
            error = new(BucketEventErrorCode.MissingField, "EventName is missing (and Records[0].eventName too)");
            return false;
        }

        BucketEventKind kind;
        var normalizedName = eventName.StartsWith("s3:", StringComparison.Ordinal) ? eventName[3..] : eventName;
        if (normalizedName.StartsWith("ObjectRemoved", StringComparison.Ordinal))
        {
            kind = BucketEventKind.Removed;
        }
        else if (normalizedName.StartsWith("ObjectCreated", StringComparison.Ordinal))
        {
            kind = BucketEventKind.Created;
        }
        else
        {
            error = new(BucketEventErrorCode.UnsupportedEvent, $"event '{eventName}' is neither ObjectCreated nor ObjectRemoved");
            return false;
        }

        string bucket;
        string key;
        if (String(root, "Key") is { } bucketAndKey)
        {
            var slash = bucketAndKey.IndexOf('/', StringComparison.Ordinal);
            if (slash <= 0 || slash == bucketAndKey.Length - 1)
            {
                error = new(BucketEventErrorCode.InvalidKey, $"Key '{bucketAndKey}' is not of the form 'bucket/key'");
                return false;
            }

            bucket = bucketAndKey[..slash];
            key = bucketAndKey[(slash + 1)..];
        }
        else if (String(Property(s3, "bucket"), "name") is { Length: > 0 } bucketName && String(obj, "key") is { Length: > 0 } encodedKey)
        {
            bucket = bucketName;
            // AWS and MinIO URL-encode the record's key; Ceph RGW sends it as is.
            key = String(record, "eventSource") is { } origin && origin.StartsWith("ceph:", StringComparison.Ordinal) ? encodedKey : DecodeS3Key(encodedKey);
        }
        else
        {
            error = new(BucketEventErrorCode.MissingField, "Key is missing (and Records[0].s3.bucket.name / s3.object.key too)");
            return false;
        }

        if (Paths.ObjectKeys.Validate(key) is { } keyProblem)
        {
            error = new(BucketEventErrorCode.InvalidKey, $"{keyProblem}: '{key}'");
            return false;
        }

        var metadata = ReadUserMetadata(obj, out var metadataContentType);
        bucketEvent = new BucketEvent
        {
            EventName = eventName,
            Kind = kind,
            Bucket = bucket,
            Key = key,
            Size = Property(obj, "size") is { ValueKind: JsonValueKind.Number } size && size.TryGetInt64(out var bytes) ? bytes : null,
            ETag = String(obj, "eTag")?.Trim('"') is { Length: > 0 } etag ? etag : null,
            ContentType = String(obj, "contentType") ?? metadataContentType,
            UserMetadata = metadata,
            SourceIpAddress = String(Property(record, "requestParameters"), "sourceIPAddress"),
            Sequencer = String(obj, "sequencer") ?? String(obj, "versionId"),
        };
        error = null;
        return true;
    }

    /// <summary>Decodes an S3 event key: <c>+</c> is a space and <c>%XX</c> an escaped byte.</summary>
    public static string DecodeS3Key(string encoded) =>
        Uri.UnescapeDataString(encoded.Replace('+', ' '));

    private static ImmutableDictionary<string, string> ReadUserMetadata(JsonElement obj, out string? contentType)
    {
        string? foundContentType = null;
        var builder = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);

        void Add(string name, string? value)
        {
            if (value is null)
            {
                return;
            }

            if (name.StartsWith(MetaPrefix, StringComparison.OrdinalIgnoreCase))
            {
                // MinIO sends X-Amz-Meta-Originalfilename, S3 SDKs x-amz-meta-originalfilename: one casing here.
                builder[name[MetaPrefix.Length..].ToLowerInvariant()] = Storage.MetadataValues.Decode(value);
            }
            else if (name.Equals("content-type", StringComparison.OrdinalIgnoreCase))
            {
                foundContentType = value;
            }
        }

        switch (Property(obj, "userMetadata"))
        {
            case { ValueKind: JsonValueKind.Object } map:
                foreach (var entry in map.EnumerateObject())
                {
                    Add(entry.Name, AsText(entry.Value));
                }

                break;
        }

        // Ceph RGW sends metadata as a [{key, val}] list.
        if (Property(obj, "metadata") is { ValueKind: JsonValueKind.Array } list)
        {
            foreach (var item in list.EnumerateArray())
            {
                if (String(item, "key") is { } name)
                {
                    Add(name, AsText(Property(item, "val")));
                }
            }
        }

        contentType = foundContentType;
        return builder.ToImmutable();
    }

    private static JsonElement FirstRecord(JsonElement root) =>
        Property(root, "Records") is { ValueKind: JsonValueKind.Array } records && records.GetArrayLength() > 0
            ? records[0]
            : default;

    private static JsonElement Property(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) ? value : default;

    private static string? String(JsonElement element, string name) =>
        Property(element, name) is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;

    private static string? AsText(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Undefined or JsonValueKind.Null => null,
        _ => value.GetRawText(),
    };
}
