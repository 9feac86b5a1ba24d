using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Orleans.CastIron.Jobs;

/// <summary>
/// The exact JSON of job events on <c>pizza-tracker</c> (seed-spec F-22):
/// <c>{"type":"job_created","job_id":…,"filename":…,"handler":…,"uploader":…}</c> and
/// <c>{"type":"job_update","job_id":…,"status"|"progress"|"task"|"committed":…}</c>.
/// </summary>
public static class JobEventJson
{
    /// <summary>Wire name of <see cref="JobEventType.JobCreated"/>.</summary>
    public const string JobCreated = "job_created";

    /// <summary>Wire name of <see cref="JobEventType.JobUpdate"/>.</summary>
    public const string JobUpdate = "job_update";

    /// <summary>Wire name of <see cref="JobEventType.ConfigError"/>.</summary>
    public const string ConfigError = "config_error";

    // Consumers are Kafka clients, not HTML pages: keep '+', '/' and non-ASCII text readable, as the seed's JSON did.
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Serialises an event to UTF-8 JSON.</summary>
    /// <exception cref="ArgumentException">The event is incomplete (see <see cref="Validate"/>).</exception>
    public static byte[] SerializeToUtf8(JobEvent jobEvent)
    {
        if (Validate(jobEvent) is { } problem)
        {
            throw new ArgumentException(problem, nameof(jobEvent));
        }

        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("type", jobEvent.Type switch { JobEventType.JobCreated => JobCreated, JobEventType.ConfigError => ConfigError, _ => JobUpdate });
            writer.WriteString("job_id", jobEvent.JobId);
            if (jobEvent.Type == JobEventType.ConfigError)
            {
                writer.WriteStartArray("errors");
                foreach (var error in jobEvent.Errors)
                {
                    writer.WriteStringValue(error);
                }

                writer.WriteEndArray();
            }
            else if (jobEvent.Type == JobEventType.JobCreated)
            {
                writer.WriteString("filename", jobEvent.Filename);
                writer.WriteString("handler", jobEvent.Handler);
                writer.WriteString("uploader", jobEvent.Uploader);
            }
            else if (jobEvent.Status is { } status)
            {
                writer.WriteString("status", status);
            }
            else if (jobEvent.Progress is { } progress)
            {
                writer.WriteNumber("progress", progress);
            }
            else if (jobEvent.Task is { } task)
            {
                writer.WriteString("task", task);
            }
            else
            {
                writer.WriteNumber("committed", jobEvent.Committed!.Value);
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Serialises an event to a JSON string.</summary>
    public static string Serialize(JobEvent jobEvent) => System.Text.Encoding.UTF8.GetString(SerializeToUtf8(jobEvent));

    /// <summary>
    /// Why <paramref name="jobEvent"/> cannot be published, or <see langword="null"/>: a job id is required, a
    /// <c>job_created</c> needs filename, handler and uploader, and a <c>job_update</c> carries exactly one of
    /// status, progress (0..1), task and committed.
    /// </summary>
    public static string? Validate(JobEvent jobEvent)
    {
        ArgumentNullException.ThrowIfNull(jobEvent);
        if (string.IsNullOrEmpty(jobEvent.JobId))
        {
            return "job_id is required";
        }

        if (jobEvent.Type == JobEventType.ConfigError)
        {
            return jobEvent.Errors.IsDefaultOrEmpty ? "config_error needs at least one error" : null;
        }

        if (jobEvent.Type == JobEventType.JobCreated)
        {
            return jobEvent.Filename is null || jobEvent.Handler is null || jobEvent.Uploader is null
                ? "job_created needs filename, handler and uploader"
                : null;
        }

        var payloads = (jobEvent.Status is null ? 0 : 1) + (jobEvent.Progress is null ? 0 : 1)
            + (jobEvent.Task is null ? 0 : 1) + (jobEvent.Committed is null ? 0 : 1);
        if (payloads != 1)
        {
            return "job_update carries exactly one of status, progress, task, committed";
        }

        return jobEvent.Progress is { } progress && !(progress is >= 0 and <= 1)
            ? "progress must be within 0..1"
            : null;
    }

    /// <summary>Reads a job event; returns <see langword="null"/> for anything that is not one. Never throws.</summary>
    public static JobEvent? TryParse(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("type", out var type)
                || !root.TryGetProperty("job_id", out var jobId) || jobId.ValueKind != JsonValueKind.String)
            {
                return null;
            }

            string? Text(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

            JobEvent? parsed = type.ValueKind != JsonValueKind.String ? null : type.GetString() switch
            {
                JobCreated => JobEvent.Created(jobId.GetString()!, Text("filename")!, Text("handler")!, Text("uploader")!),
                ConfigError when root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array =>
                    JobEvent.ConfigErrors(jobId.GetString()!, errors.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!)),
                JobUpdate => new JobEvent
                {
                    Type = JobEventType.JobUpdate,
                    JobId = jobId.GetString()!,
                    Status = Text("status"),
                    Task = Text("task"),
                    Progress = root.TryGetProperty("progress", out var p) && p.ValueKind == JsonValueKind.Number ? p.GetDouble() : null,
                    Committed = root.TryGetProperty("committed", out var c) && c.ValueKind == JsonValueKind.Number && c.TryGetInt64(out var n) ? n : null,
                },
                _ => null,
            };
            return parsed is not null && Validate(parsed) is null ? parsed : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
