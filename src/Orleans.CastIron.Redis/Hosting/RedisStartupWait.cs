using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Orleans.CastIron.Redis;

/// <summary>
/// Holds the silo's start until the cluster's Redis answers, with one warning per attempt (backing off from 1 s to
/// 30 s): Orleans' membership gives up on an unreachable Redis after 5 s and the process dies with an unhandled
/// exception, a crash loop when everything starts at once. Register it before Orleans, whose start it must precede.
/// </summary>
public sealed partial class RedisStartupWait(RedisClusterOptions options, ILogger<RedisStartupWait> logger, TimeProvider time) : IHostedService
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LongestRetry = TimeSpan.FromSeconds(30);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var configuration = ConfigurationOptions.Parse(options.Redis!);
        configuration.AbortOnConnectFail = true;
        configuration.ConnectRetry = 0;
        configuration.ConnectTimeout = 5_000;
        // The endpoints only: the connection string may hold a password.
        var where = string.Join(", ", configuration.EndPoints.Select(EndPointCollection.ToString));
        var retry = FirstRetry;
        for (var attempt = 1; ; attempt++)
        {
            string reason;
            try
            {
                await using var connection = await ConnectionMultiplexer.ConnectAsync(configuration).WaitAsync(cancellationToken).ConfigureAwait(false);
                await connection.GetDatabase().PingAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
                if (attempt > 1)
                {
                    LogReachable(where, attempt);
                }

                return;
            }
            catch (RedisConnectionException ex)
            {
                reason = ex.FailureType.ToString();
            }
            catch (TimeoutException)
            {
                // Connected but not answering (RedisTimeoutException is a TimeoutException, not a RedisException).
                reason = "no answer to PING";
            }
            catch (RedisException ex)
            {
                // Reachable but refusing (authentication, a loading replica): its first line says why.
                reason = ex.Message.Split('\n', 2)[0];
            }

            LogWaiting(where, reason, retry);
            await Task.Delay(retry, time, cancellationToken).ConfigureAwait(false);
            retry = retry * 2 < LongestRetry ? retry * 2 : LongestRetry;
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(1, LogLevel.Warning, "The cluster's Redis at {Endpoints} (CASTIRON_REDIS) does not answer ({Reason}); the silo starts once it does, next attempt in {Retry}")]
    private partial void LogWaiting(string endpoints, string reason, TimeSpan retry);

    [LoggerMessage(2, LogLevel.Information, "The cluster's Redis at {Endpoints} answered (attempt {Attempt}); starting")]
    private partial void LogReachable(string endpoints, int attempt);
}
