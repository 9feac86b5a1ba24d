using System.Globalization;
using System.Text;
using Orleans.CastIron.Grains;
using Orleans.CastIron.Jobs;

namespace Orleans.CastIron.Silo.Api;

/// <summary>
/// A job's events as Server-Sent Events: <c>id:</c> is the event's sequence number (a client that reconnects with
/// <c>Last-Event-ID</c> gets exactly what it missed), <c>event: job_event</c>, <c>data:</c> the seed's event JSON. After
/// the final status an <c>end</c> event closes the stream. A comment every poll keeps proxies from timing it out and
/// shows a dead client.
/// </summary>
internal static class JobEventStream
{
    /// <summary>How long one long poll of the job's feed waits.</summary>
    public static readonly TimeSpan PollWait = TimeSpan.FromSeconds(15);

    public static async Task WriteAsync(HttpContext http, long after, Func<long, Task<JobEventPage>> next)
    {
        var response = http.Response;
        var aborted = http.RequestAborted;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        // nginx (the compose front) would otherwise buffer the stream.
        response.Headers["X-Accel-Buffering"] = "no";
        await response.Body.FlushAsync(aborted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var position = after;
        try
        {
            while (!aborted.IsCancellationRequested)
            {
                var page = await next(position);
                var text = new StringBuilder();
                foreach (var (sequence, jobEvent) in page.Events)
                {
                    text.Append(CultureInfo.InvariantCulture, $"id: {sequence}\nevent: job_event\ndata: {JobEventJson.Serialize(jobEvent)}\n\n");
                    position = sequence;
                }

                var ended = page.Ended && position >= page.Last;
                text.Append(ended ? $"event: end\ndata: {{\"last\":{page.Last}}}\n\n" : ": waiting\n\n");
                await response.WriteAsync(text.ToString(), aborted);
                await response.Body.FlushAsync(aborted);
                if (ended)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client went away.
        }
    }
}
