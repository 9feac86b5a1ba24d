using System.Net;
using System.Net.Sockets;
using Minio.Exceptions;

namespace Orleans.CastIron.Storage.S3.Providers;

/// <summary>An S3 request that failed for good: names the operation, the object and the server's own message.</summary>
public sealed class ObjectStoreException(string message, Exception? inner = null) : IOException(message, inner)
{
    /// <summary>The server's error code (e.g. <c>AccessDenied</c>), when it sent one.</summary>
    public string? Code { get; init; }
}

/// <summary>A download failed after its first bytes went to the reader: never retried from the start.</summary>
internal sealed class BodyFailedException(Exception inner) : Exception(inner.Message, inner);

/// <summary>
/// Runs S3 requests with retries: transient failures (network errors, timeouts, 5xx, throttling) are retried with
/// exponential backoff and full jitter; permanent ones (access denied, invalid requests) are reported at once, with
/// the operation, the key and the server's message.
/// </summary>
internal sealed partial class S3Retry(S3StorageOptions options, ILogger logger)
{
    /// <summary>Server error codes worth another attempt.</summary>
    private static readonly HashSet<string> TransientCodes = new(StringComparer.Ordinal)
    {
        "InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "RequestTimeTooSkewed", "OperationAborted",
        "ServerSideEncryptionConfigurationNotFoundError", "XMinioServerNotInitialized", "XMinioStorageFull",
    };

    public Task<T> RunAsync<T>(string operation, string bucket, string key, Func<CancellationToken, Task<T>> request, CancellationToken cancellationToken) =>
        RunAsync(operation, bucket, key, transfer: false, request, cancellationToken);

    /// <param name="transfer">
    /// A request that moves content (upload, copy, download) and is bounded by <see cref="S3StorageOptions.TransferTimeout"/>
    /// rather than <see cref="S3StorageOptions.RequestTimeout"/>.
    /// </param>
    public async Task<T> RunAsync<T>(string operation, string bucket, string key, bool transfer, Func<CancellationToken, Task<T>> request, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(transfer ? options.TransferTimeout : options.RequestTimeout);
            try
            {
                return await request(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && IsTransient(ex) && attempt < options.MaxAttempts)
            {
                var delay = Delay(attempt);
                LogRetry(ex, operation, key, attempt, options.MaxAttempts, delay.TotalMilliseconds, Describe(ex));
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not Minio.Exceptions.ObjectNotFoundException and not ObjectStoreException and not Storage.ObjectNotFoundException)
            {
                var what = key.Length > 0 ? $"S3 {operation} of '{key}' in bucket '{bucket}'" : $"S3 {operation} for bucket '{bucket}'";
                throw new ObjectStoreException(
                    $"{what} at {options.Endpoint} failed{(IsTransient(ex) ? $" after {attempt} attempts" : "")}: {Describe(ex)}",
                    ex)
                {
                    Code = (ex as MinioException)?.Response?.Code,
                };
            }
        }
    }

    public Task RunAsync(string operation, string bucket, string key, Func<CancellationToken, Task> request, CancellationToken cancellationToken) =>
        RunAsync(operation, bucket, key, transfer: false, request, cancellationToken);

    public Task RunAsync(string operation, string bucket, string key, bool transfer, Func<CancellationToken, Task> request, CancellationToken cancellationToken) =>
        RunAsync<bool>(operation, bucket, key, transfer, async token =>
        {
            await request(token).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <summary>Full jitter: a random delay up to base × 2^(attempt-1), capped.</summary>
    private TimeSpan Delay(int attempt)
    {
        var ceiling = Math.Min(options.RetryMaxDelay.TotalMilliseconds, options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, attempt - 1));
        return TimeSpan.FromMilliseconds(Math.Max(1, Random.Shared.NextDouble() * ceiling));
    }

    internal static bool IsTransient(Exception exception) => exception switch
    {
        BodyFailedException => false,
        MinioException { Response.Code: { Length: > 0 } code } minio => TransientCodes.Contains(code) || (int?)minio.ServerResponse?.StatusCode >= 500,
        MinioException { ServerResponse: { } response } when (int)response.StatusCode >= 500 => true,
        // Header values the client refuses (not ASCII) are not the network's fault.
        HttpRequestException http when http.InnerException is null && http.Message.Contains("ASCII", StringComparison.Ordinal) => false,
        // An error status seen before the SDK (object GETs): only server-side trouble is worth another attempt.
        HttpRequestException { StatusCode: { } status } => (int)status >= 500 || status is System.Net.HttpStatusCode.RequestTimeout or System.Net.HttpStatusCode.TooManyRequests,
        ObjectStoreException => false,
        ConnectionException or HttpRequestException or SocketException or IOException or TimeoutException => true,
        // A proxy's HTML error page (a MinIO restarting behind an ingress) fails the SDK's XML parsing.
        InvalidOperationException xml when xml.Message.Contains("XML document", StringComparison.Ordinal) => true,
        // A request timeout of ours (the caller's token is not canceled: checked by the filter).
        OperationCanceledException => true,
        // The SDK throws this for a 5xx answer without a body (minio-dotnet #1333).
        NullReferenceException => true,
        InternalClientException inner => inner.InnerException is { } cause && IsTransient(cause),
        MinioException minio when minio.InnerException is { } cause => IsTransient(cause),
        _ => false,
    };

    internal static string Describe(Exception exception) => exception switch
    {
        MinioException { Response.Code: { Length: > 0 } code } minio => $"{code}{(minio.ServerResponse is { } r ? $" ({(int)r.StatusCode} {r.StatusCode})" : "")}: {minio.Response.Message ?? minio.Message}",
        MinioException minio when minio.InnerException is { } cause => $"{minio.Message} ({cause.Message})",
        OperationCanceledException => "no answer within the request timeout",
        // The SDK fails to build its exception from some servers' error answers (Ceph refusing a MinIO queue ARN).
        ArgumentNullException { ParamName: "message" } => "the server answered with an error the Minio SDK could not read",
        _ => exception.Message,
    };

    [LoggerMessage(1, LogLevel.Warning, "S3 {Operation} of '{ObjectKey}' failed (attempt {Attempt} of {MaxAttempts}), retrying in {DelayMs:F0} ms: {Reason}")]
    private partial void LogRetry(Exception exception, string operation, string objectKey, int attempt, int maxAttempts, double delayMs, string reason);
}
