using System.Text.Json;

namespace Orleans.CastIron.Events;

/// <summary>
/// A streaming payload message (seed-spec F-23): a JSON object with <c>worker_run_method</c> (the handler's name),
/// <c>data</c>, and any other fields, which become named arguments.
/// </summary>
public sealed record TextPayloadMessage(string WorkerRunMethod, JsonElement Data, ImmutableDictionary<string, JsonElement> Arguments)
{
    /// <summary>The handler-name field.</summary>
    public const string WorkerRunMethodField = "worker_run_method";

    /// <summary>The payload field.</summary>
    public const string DataField = "data";

    /// <summary><c>data</c> as text: a string's value, or the JSON text of any other value.</summary>
    public string DataText => Data.ValueKind == JsonValueKind.String ? Data.GetString()! : Data.GetRawText();

    /// <summary>Reads a message; never throws for bad input. The elements stay valid after the call (they are cloned).</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8Json, out TextPayloadMessage? message, out string? error)
    {
        message = null;
        try
        {
            using var document = JsonDocument.Parse(utf8Json.ToArray());
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = $"the message is a JSON {root.ValueKind}, not an object";
                return false;
            }

            if (!root.TryGetProperty(WorkerRunMethodField, out var method) || method.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(method.GetString()))
            {
                error = $"'{WorkerRunMethodField}' is missing or not a non-empty string";
                return false;
            }

            if (!root.TryGetProperty(DataField, out var data))
            {
                error = $"'{DataField}' is missing";
                return false;
            }

            var arguments = ImmutableDictionary.CreateBuilder<string, JsonElement>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                if (property.Name is not (WorkerRunMethodField or DataField))
                {
                    arguments[property.Name] = property.Value.Clone();
                }
            }

            message = new TextPayloadMessage(method.GetString()!, data.Clone(), arguments.ToImmutable());
            error = null;
            return true;
        }
        catch (JsonException ex)
        {
            error = $"the message is not valid JSON: {ex.Message}";
            return false;
        }
    }
}
