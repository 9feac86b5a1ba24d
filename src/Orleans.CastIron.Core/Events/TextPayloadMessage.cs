using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Orleans.CastIron.Events;

/// <summary>
/// A streaming payload message (seed-spec F-23): a JSON object with <c>worker_run_method</c> (the handler's name),
/// <c>data</c>, and any other fields, which become named arguments.
/// </summary>
/// <remarks>
/// <c>data</c> is not copied: <see cref="DataUtf8"/> is a slice of the bytes the message was read from (video
/// payloads reach 20 MiB, and copying them was most of the cost), so those bytes must not change while the message is
/// in use. The arguments are small and are copied, so they outlive the bytes.
/// </remarks>
public sealed class TextPayloadMessage
{
    /// <summary>The handler-name field.</summary>
    public const string WorkerRunMethodField = "worker_run_method";

    /// <summary>The payload field.</summary>
    public const string DataField = "data";

    private TextPayloadMessage(string workerRunMethod, ReadOnlyMemory<byte> dataUtf8, bool dataIsString, ImmutableDictionary<string, JsonElement> arguments)
    {
        WorkerRunMethod = workerRunMethod;
        DataUtf8 = dataUtf8;
        DataIsString = dataIsString;
        Arguments = arguments;
    }

    /// <summary>The handler's name.</summary>
    public string WorkerRunMethod { get; }

    /// <summary>
    /// <c>data</c> as UTF-8: a string's value (unescaped), or the JSON text of any other value. A slice of the bytes
    /// read, unless the string had escapes to undo.
    /// </summary>
    public ReadOnlyMemory<byte> DataUtf8 { get; }

    /// <summary>True when <c>data</c> is a JSON string; otherwise <see cref="DataUtf8"/> is the JSON text of its value.</summary>
    public bool DataIsString { get; }

    /// <summary><c>data</c> as text: a string's value, or the JSON text of any other value. Decoded at each read.</summary>
    public string DataText => Encoding.UTF8.GetString(DataUtf8.Span);

    /// <summary>The other fields, by name.</summary>
    public ImmutableDictionary<string, JsonElement> Arguments { get; }

    /// <summary>Reads a message from <paramref name="utf8Json"/> without copying <c>data</c>; never throws for bad input.</summary>
    public static bool TryParse(ReadOnlyMemory<byte> utf8Json, out TextPayloadMessage? message, out string? error)
    {
        try
        {
            error = Read(utf8Json, out message);
        }
        catch (JsonException ex)
        {
            message = null;
            error = $"the message is not valid JSON: {ex.Message}";
        }
        catch (InvalidOperationException ex)
        {
            // A field name or the handler name that is not valid UTF-8 (or an escaped lone surrogate).
            message = null;
            error = $"the message is not valid UTF-8 JSON: {ex.Message}";
        }

        return error is null;
    }

    // One pass of a reader over the bytes rather than a JsonDocument: the document would rent a table as large as the
    // payload and, to outlive it, every element would have to be cloned.
    private static string? Read(ReadOnlyMemory<byte> utf8Json, out TextPayloadMessage? message)
    {
        message = null;
        var reader = new Utf8JsonReader(utf8Json.Span);
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            var kind = KindOf(reader.TokenType);
            reader.Skip();
            EnsureEnd(ref reader);
            return $"the message is a JSON {kind}, not an object";
        }

        string? method = null;
        ReadOnlyMemory<byte>? data = null;
        var dataIsText = true;
        var dataIsString = false;
        var arguments = ImmutableDictionary.CreateBuilder<string, JsonElement>(StringComparer.Ordinal);
        // A field given twice counts once, the last time (as the seed's json.loads read it).
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            switch (name)
            {
                case WorkerRunMethodField:
                    method = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    reader.Skip();
                    break;
                case DataField:
                    dataIsString = reader.TokenType == JsonTokenType.String;
                    dataIsText = TryReadData(ref reader, utf8Json, out var value);
                    data = value;
                    break;
                default:
                    arguments[name] = JsonElement.ParseValue(ref reader);
                    break;
            }
        }

        EnsureEnd(ref reader);
        if (string.IsNullOrWhiteSpace(method))
        {
            return $"'{WorkerRunMethodField}' is missing or not a non-empty string";
        }

        if (!dataIsText)
        {
            return $"'{DataField}' is not valid UTF-8 text";
        }

        if (data is not { } dataUtf8)
        {
            return $"'{DataField}' is missing";
        }

        message = new TextPayloadMessage(method, dataUtf8, dataIsString, arguments.ToImmutable());
        return null;
    }

    /// <summary>
    /// Reads the value at <paramref name="reader"/> as UTF-8 (a string's value, or the JSON text of another value),
    /// leaving the reader on its last token; false when it is not valid UTF-8 (the reader does not check).
    /// </summary>
    private static bool TryReadData(ref Utf8JsonReader reader, ReadOnlyMemory<byte> utf8Json, out ReadOnlyMemory<byte> data)
    {
        var start = (int)reader.TokenStartIndex;
        if (reader.TokenType != JsonTokenType.String)
        {
            reader.Skip();
            data = utf8Json[start..(int)reader.BytesConsumed];
        }
        else if (!reader.ValueIsEscaped)
        {
            // After the opening quote.
            data = utf8Json.Slice(start + 1, reader.ValueSpan.Length);
        }
        else
        {
            // Escapes to undo: the one case that needs a copy (never longer than the escaped text).
            var unescaped = new byte[reader.ValueSpan.Length];
            try
            {
                data = unescaped.AsMemory(0, reader.CopyString(unescaped));
            }
            catch (InvalidOperationException)
            {
                // An escaped lone surrogate: there is no UTF-8 for it.
                data = default;
                return false;
            }
        }

        return Utf8.IsValid(data.Span);
    }

    /// <summary>Throws <see cref="JsonException"/> when anything but whitespace follows the message.</summary>
    private static void EnsureEnd(ref Utf8JsonReader reader)
    {
        // The reader itself throws on a second value; true would mean it was told to allow several.
        if (reader.Read())
        {
            throw new JsonException("more than one JSON value");
        }
    }

    private static string KindOf(JsonTokenType token) => token switch
    {
        JsonTokenType.StartArray => nameof(JsonValueKind.Array),
        JsonTokenType.String => nameof(JsonValueKind.String),
        JsonTokenType.Number => nameof(JsonValueKind.Number),
        JsonTokenType.True => nameof(JsonValueKind.True),
        JsonTokenType.False => nameof(JsonValueKind.False),
        _ => nameof(JsonValueKind.Null),
    };
}
