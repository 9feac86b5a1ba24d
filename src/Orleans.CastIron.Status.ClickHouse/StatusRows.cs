using System.Text.Json;
using System.Text.Json.Serialization;

namespace Orleans.CastIron.Status.ClickHouse;

/// <summary>
/// The seed's status table (seed-spec F-18) plus ours, and how a status record becomes a row. Pure: no I/O.
/// Every transition is a new row; <c>ReplacingMergeTree(version)</c> ordered by <c>id</c> keeps the latest, read with
/// <c>FINAL</c>. Nothing is ever updated or deleted in place (B-26, B-27).
/// </summary>
public static class StatusRows
{
    /// <summary>The seed's default for <c>classification</c> (<c>user_system_default_classification</c>).</summary>
    public const string DefaultClassification = "UNCLASSIFIED";

    /// <summary>Columns in insert order: the seed's, then ours.</summary>
    public static readonly string[] Columns =
    [
        "id", "bucket_name", "file_name", "status", "original_filename", "mission_id", "event_name", "source_ip", "size",
        "etag", "content_type", "created_dt", "updated_dt", "metadata", "user_dn", "classification", "owner_producer",
        "sci_controls", "sar_identifier", "atomic_energy_control", "dissemination_controls", "fgi_source_open",
        "fgi_source_protected", "releasable_to", "non_ic_markings",
        "job_id", "attempt", "processor", "error", "transition_dt", "version", "record",
    ];

    /// <summary>Our columns, added to the seed's own table when it already exists.</summary>
    public static readonly (string Column, string Type)[] AddedColumns =
    [
        ("job_id", "Nullable(String)"), ("attempt", "UInt32"), ("processor", "Nullable(String)"), ("error", "Nullable(String)"),
        ("transition_dt", "DateTime64(6, 'UTC')"), ("version", "UInt64"), ("record", "String"),
    ];

    private static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };

    /// <summary>The DDL; <paramref name="qualifiedTable"/> is a validated identifier pair, never user input.</summary>
    public static string CreateTable(string qualifiedTable) => $"""
        CREATE TABLE IF NOT EXISTS {qualifiedTable}
        (
            id String,
            bucket_name String,
            file_name String,
            status LowCardinality(String),
            original_filename String,
            mission_id Nullable(String),
            event_name Nullable(String),
            source_ip Nullable(String),
            size Nullable(Int64),
            etag Nullable(String),
            content_type Nullable(String),
            created_dt DateTime64(3, 'UTC'),
            updated_dt DateTime64(3, 'UTC'),
            metadata String,
            user_dn Nullable(String),
            classification String DEFAULT '{DefaultClassification}',
            owner_producer Nullable(String),
            sci_controls Array(String),
            sar_identifier Array(String),
            atomic_energy_control Nullable(String),
            dissemination_controls Array(String),
            fgi_source_open Nullable(String),
            fgi_source_protected Nullable(String),
            releasable_to Array(String),
            non_ic_markings Array(String),
            job_id Nullable(String),
            attempt UInt32,
            processor Nullable(String),
            error Nullable(String),
            transition_dt DateTime64(6, 'UTC'),
            version UInt64,
            record String
        )
        ENGINE = ReplacingMergeTree(version)
        ORDER BY id
        """;

    /// <summary>One row for <paramref name="record"/>, in <see cref="Columns"/> order.</summary>
    /// <param name="recordJson">The record's JSON when the caller has it already (a journal line).</param>
    /// <param name="defaultClassification">The classification of a file whose metadata names none (the seed's setting).</param>
    public static object?[] ToRow(FileStatusRecord record, string? recordJson = null, string defaultClassification = DefaultClassification)
    {
        ArgumentNullException.ThrowIfNull(record);
        var metadata = record.Metadata;
        var marking = SecurityMarking.Parse(metadata.GetValueOrDefault("classification"));
        var last = record.Transitions.IsDefaultOrEmpty ? null : record.Transitions[^1];
        return
        [
            record.Id,
            record.BucketName,
            record.FileName,
            record.Status.ToString(),
            record.OriginalFilename,
            metadata.GetValueOrDefault("mission_id"),
            null, // event_name and source_ip: the seed copied them from the first event; the record does not keep them
            null,
            record.Size,
            null,
            record.ContentType,
            record.CreatedAt.UtcDateTime,
            record.UpdatedAt.UtcDateTime,
            JsonSerializer.Serialize(metadata, Json),
            metadata.GetValueOrDefault("owner_dn"),
            marking.Classification ?? defaultClassification,
            marking.OwnerProducer,
            marking.SciControls,
            marking.SarIdentifier,
            marking.AtomicEnergyControl,
            marking.DisseminationControls,
            marking.FgiSourceOpen,
            marking.FgiSourceProtected,
            marking.ReleasableTo,
            marking.NonIcMarkings,
            record.JobId,
            (uint)Math.Max(0, record.Attempts),
            record.ConfigKey,
            record.Status is FileStatus.Failed or FileStatus.Canceled ? record.Reason : null,
            (last?.At ?? record.UpdatedAt).UtcDateTime,
            Version(record),
            recordJson ?? ToJournalLine(record),
        ];
    }

    /// <summary>Orders a file's rows: later transitions, then later updates, win.</summary>
    public static ulong Version(FileStatusRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return (ulong)Math.Max(0, record.UpdatedAt.UtcTicks);
    }

    /// <summary>The record a row's <c>record</c> column holds.</summary>
    public static FileStatusRecord FromRecordJson(string json) =>
        JsonSerializer.Deserialize<FileStatusRecord>(json, Json) ?? throw new InvalidDataException("a status row holds no record");

    /// <summary>The record as the journal keeps it (one JSON line).</summary>
    public static string ToJournalLine(FileStatusRecord record) => JsonSerializer.Serialize(record, Json);
}

/// <summary>
/// The seed's classification family, parsed as the seed did from the JSON in the <c>classification</c> metadata
/// (<c>X-Amz-Meta-Classification</c>); anything unreadable leaves the defaults.
/// </summary>
public sealed record SecurityMarking(
    string? Classification,
    string? OwnerProducer,
    string[] SciControls,
    string[] SarIdentifier,
    string? AtomicEnergyControl,
    string[] DisseminationControls,
    string? FgiSourceOpen,
    string? FgiSourceProtected,
    string[] ReleasableTo,
    string[] NonIcMarkings)
{
    public static SecurityMarking Parse(string? json)
    {
        var empty = new SecurityMarking(null, null, [], [], null, [], null, null, [], []);
        if (string.IsNullOrWhiteSpace(json))
        {
            return empty;
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return empty;
            }

            return new SecurityMarking(
                Text(root, "classification"),
                Text(root, "owner_producer"),
                List(root, "sci_controls"),
                List(root, "sar_identifier"),
                Text(root, "atomic_energy_control"),
                List(root, "dissemination_controls"),
                Text(root, "fgi_source_open"),
                Text(root, "fgi_source_protected"),
                List(root, "releasable_to"),
                List(root, "non_ic_markings"));
        }
        catch (JsonException)
        {
            return empty;
        }
    }

    private static string? Text(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string[] List(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array
            ? [.. value.EnumerateArray().Where(v => v.ValueKind == JsonValueKind.String).Select(v => v.GetString()!)]
            : root.TryGetProperty(name, out var single) && single.ValueKind == JsonValueKind.String ? [single.GetString()!] : [];
}
