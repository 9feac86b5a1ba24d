using System.IO.Compression;
using K4os.Compression.LZ4.Streams;
using ZstdSharp;

namespace Orleans.CastIron.ClickHousePeer;

/// <summary>
/// Decodes a request body by its <c>Content-Encoding</c>, as ClickHouse's HTTP interface does. ClickHouse.Driver
/// 1.5.0 sends binary inserts as <c>zstd</c> by default, SQL text as <c>gzip</c> when compression is on (the default),
/// and <c>lz4</c>, <c>deflate</c> or <c>br</c> when a caller picks that compressor.
/// </summary>
internal static class RequestBodyDecoder
{
    /// <summary>The codecs <see cref="Decode"/> understands.</summary>
    public const string Supported = "gzip, deflate, br, zstd, lz4";

    /// <summary>Decodes <paramref name="body"/>; codecs in <paramref name="contentEncoding"/> are listed in the order they were applied.</summary>
    /// <exception cref="NotSupportedException">A codec this peer cannot decode.</exception>
    public static byte[] Decode(byte[] body, string? contentEncoding)
    {
        if (string.IsNullOrWhiteSpace(contentEncoding) || body.Length == 0)
        {
            return body;
        }

        var codecs = contentEncoding.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        for (var i = codecs.Length - 1; i >= 0; i--)
        {
            var codec = codecs[i].ToLowerInvariant();
            if (codec is "identity" or "none")
            {
                continue;
            }

            using var input = new MemoryStream(body, writable: false);
            using Stream decoder = codec switch
            {
                "gzip" or "x-gzip" => new GZipStream(input, CompressionMode.Decompress),
                "deflate" when IsZlib(body) => new ZLibStream(input, CompressionMode.Decompress),
                "deflate" => new DeflateStream(input, CompressionMode.Decompress),
                "br" or "brotli" => new BrotliStream(input, CompressionMode.Decompress),
                "zstd" => new DecompressionStream(input),
                "lz4" => LZ4Stream.Decode(input),
                _ => throw new NotSupportedException($"the ClickHouse peer cannot decode Content-Encoding '{codec}' (it decodes {Supported})"),
            };
            using var output = new MemoryStream(body.Length * 4);
            decoder.CopyTo(output);
            body = output.ToArray();
        }

        return body;
    }

    // HTTP's "deflate" is zlib-wrapped (RFC 9110) and that is what ClickHouse expects; some clients send raw deflate.
    // A zlib stream starts with a CMF byte whose low nibble is 8, and CMF*256+FLG is a multiple of 31.
    private static bool IsZlib(byte[] body) =>
        body.Length >= 2 && (body[0] & 0x0F) == 8 && ((body[0] << 8) | body[1]) % 31 == 0;
}
