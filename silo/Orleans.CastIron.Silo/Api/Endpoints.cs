using System.Globalization;
using Orleans.CastIron.Config;
using Orleans.CastIron.Files;
using Orleans.CastIron.Grains;
using Orleans.CastIron.Jobs;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Silo.Services;
using Orleans.CastIron.Grains.Services;

namespace Orleans.CastIron.Silo.Api;

/// <summary>The REST API: the seed's <c>/manager/*</c> routes plus file, processor and job routes.</summary>
public static class Endpoints
{
    public static void MapCastIronApi(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var open = app.MapGroup("");
        // Routes reading the status store (ClickHouse when configured): a store that does not answer is a 503.
        var status = app.MapGroup("").AddEndpointFilter<StatusStoreFilter>();
        var guarded = app.MapGroup("").AddEndpointFilter<ApiKeyFilter>();

        open.MapGet("/manager/health", () => Results.Ok(new { message = "Running" }));
        open.MapGet("/manager/status", async (CastIronService service, CancellationToken ct) =>
            Results.Ok(new { message = await service.GetStatusAsync(ct) }));

        // The seed's routes are GETs although they change state; they keep working, behind the API key.
        guarded.MapGet("/manager/start-consumers", async (CastIronService service) => await service.ResumeIntakeAsync()
            ? Results.Ok("Successfully started all workers!")
            : Results.Conflict(new { message = "All Consumers already running" }));
        guarded.MapGet("/manager/stop-consumers", async (CastIronService service) => await service.PauseIntakeAsync()
            ? Results.Ok("Successfully Stopped all workers!")
            : Results.Conflict(new { message = "Consumers are already stopped" }));
        guarded.MapGet("/manager/cancel-record/{filename}", async (string filename, CastIronService service, CancellationToken ct) =>
        {
            // As in the seed, the "filename" is the file id; unlike the seed, failure is reported (B-14).
            var result = await service.CancelAsync(filename, ct);
            return result.Accepted ? Results.Ok($"Successfully canceled task for filename: {filename}") : Refused(result);
        }).WithSummary("The seed's cancel: the {filename} segment is the file id (as in the seed); 404 / 409 when nothing was canceled");

        status.MapGet("/files/{id}", async (string id, CastIronService service, CancellationToken ct) =>
            await service.GetFileAsync(id, ct) is { } record ? Results.Ok(record) : Results.NotFound(new { message = $"no file with id '{id}'" }));
        status.MapGet("/files", async (string? status, string? limit, string? offset, CastIronService service, CancellationToken ct) =>
        {
            // Parsed here rather than bound: a bound int answers "abc" with an empty 400.
            var count = 1000;
            if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count is < 1 or > 100_000))
            {
                return Results.BadRequest(new { message = $"limit must be a whole number between 1 and 100000, not '{limit}'" });
            }

            var skip = 0;
            if (offset is not null && (!int.TryParse(offset, NumberStyles.None, CultureInfo.InvariantCulture, out skip) || skip > 10_000_000))
            {
                return Results.BadRequest(new { message = $"offset must be a whole number between 0 and 10000000, not '{offset}'" });
            }

            FileStatus? filter = null;
            if (status is not null)
            {
                if (!FileStatusRules.TryParse(status, out var parsed))
                {
                    return Results.BadRequest(new { message = $"'{status}' is not a status; use one of {string.Join(", ", Enum.GetNames<FileStatus>())}" });
                }

                filter = parsed;
            }

            return Results.Ok(await service.QueryFilesAsync(filter, count, skip, ct));
        });
        guarded.MapPost("/files/{id}/cancel", async (string id, CastIronService service, CancellationToken ct) => ToResult(await service.CancelAsync(id, ct)));
        guarded.MapPost("/files/{id}/retry", async (string id, CastIronService service, CancellationToken ct) => ToResult(await service.RetryAsync(id, ct))).AddEndpointFilter<StatusStoreFilter>();

        open.MapGet("/processors", async (CastIronService service) => Results.Ok(await service.GetProcessorsAsync()));
        // Guarded although it changes nothing: parsing is the costliest thing an anonymous caller could ask for.
        guarded.MapPost("/processors/validate", async (HttpRequest request, CastIronService service) =>
        {
            if (await ReadBoundedAsync(request, ProcessorConfigParser.MaxConfigBytes) is not { } body)
            {
                return Results.Json(
                    new { message = $"the config is larger than {ProcessorConfigParser.MaxConfigBytes} bytes; configs are limited to {ProcessorConfigParser.MaxConfigBytes} bytes" },
                    statusCode: StatusCodes.Status413PayloadTooLarge);
            }

            var text = System.Text.Encoding.UTF8.GetString(body);
            var result = await service.ValidateConfigAsync(request.Query["name"].FirstOrDefault() ?? "config.toml", text);
            return result.IsValid ? Results.Ok(result) : Results.UnprocessableEntity(result);
        });

        // S3 bucket notifications (MinIO webhook target, Ceph topics, AWS records): each is a hint, checked against
        // the object by its job. Answered once every event is queued for intake; otherwise the sender retries.
        app.MapPost("/events/s3", async (HttpRequest request, CastIronService service, IOptions<ApiOptions> api) =>
        {
            var options = api.Value;
            if (string.IsNullOrWhiteSpace(options.WebhookToken))
            {
                return Results.Json(new { message = "the S3 webhook is off: set CASTIRON_WEBHOOK_TOKEN (CastIron:Api:WebhookToken) to take notifications here" }, statusCode: StatusCodes.Status403Forbidden);
            }

            if (!WebhookToken.Matches(request, options.WebhookToken))
            {
                return Results.Json(new { message = "send the webhook token as 'Authorization: Bearer <token>' or '?token=<token>'" }, statusCode: StatusCodes.Status401Unauthorized);
            }

            if (await ReadBoundedAsync(request, options.MaxEventBodyBytes) is not { } body)
            {
                return Results.Json(new { message = $"a notification body is limited to {options.MaxEventBodyBytes} bytes" }, statusCode: StatusCodes.Status413PayloadTooLarge);
            }

            var outcome = service.TakeBucketNotification(body);
            return outcome.Status switch
            {
                WebhookStatus.Taken => Results.Ok(new { accepted = outcome.Accepted, ignored = outcome.Ignored, message = outcome.Message }),
                WebhookStatus.Paused => Results.Json(new { message = outcome.Message }, statusCode: StatusCodes.Status503ServiceUnavailable),
                WebhookStatus.Failed => Results.Json(new { message = outcome.Message }, statusCode: StatusCodes.Status503ServiceUnavailable),
                _ => Results.BadRequest(new { message = outcome.Message }),
            };
        }).WithSummary("S3 bucket notifications (MinIO webhook, Ceph/AWS event records); needs the webhook token");

        // A job's events: JSON (the seed's exact event JSON, in order), or, with Accept: text/event-stream, a live feed
        // (Server-Sent Events whose ids are the events' sequence numbers: Last-Event-ID resumes).
        open.MapGet("/jobs/{jobId}/events", async (string jobId, string? after, HttpContext http, CastIronService service) =>
        {
            if (!JobIds.IsValid(jobId))
            {
                return Results.NotFound(new { message = $"'{jobId}' is not a job id" });
            }

            if (ResumePosition(http.Request, after) is not { } from)
            {
                return Results.BadRequest(new { message = $"after must be a whole number of events, not '{after ?? http.Request.Headers["Last-Event-ID"]}'" });
            }

            if (WantsEventStream(http.Request))
            {
                await JobEventStream.WriteAsync(http, from, position => service.ReadJobEventsAsync(jobId, position, JobEventStream.PollWait));
                return Results.Empty;
            }

            var page = await service.ReadJobEventsAsync(jobId, from);
            return page.Last == 0
                ? Results.NotFound(new { message = $"no events for job '{jobId}'" })
                : Results.Text("[" + string.Join(",", page.Events.Select(e => JobEventJson.Serialize(e.Event))) + "]", "application/json");
        });

        // The events of a file's current job, the same way; a file still waiting for its config has none yet.
        status.MapGet("/files/{id}/events", async (string id, string? after, HttpContext http, CastIronService service) =>
        {
            if (await service.GetFileAsync(id, http.RequestAborted) is not { } record)
            {
                return Results.NotFound(new { message = $"no file with id '{id}'" });
            }

            if (ResumePosition(http.Request, after) is not { } from)
            {
                return Results.BadRequest(new { message = $"after must be a whole number of events, not '{after ?? http.Request.Headers["Last-Event-ID"]}'" });
            }

            if (WantsEventStream(http.Request))
            {
                // Until its job exists (the file is queued), the stream waits for it.
                var jobId = record.JobId;
                while (jobId is null && !http.RequestAborted.IsCancellationRequested)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(250), http.RequestAborted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    jobId = (await service.GetFileAsync(id, http.RequestAborted))?.JobId;
                }

                if (jobId is not null)
                {
                    await JobEventStream.WriteAsync(http, from, position => service.ReadJobEventsAsync(jobId, position, JobEventStream.PollWait));
                }

                return Results.Empty;
            }

            var page = record.JobId is { } job ? await service.ReadJobEventsAsync(job, from) : new JobEventPage();
            return Results.Text("[" + string.Join(",", page.Events.Select(e => JobEventJson.Serialize(e.Event))) + "]", "application/json");
        });
    }

    private static bool WantsEventStream(HttpRequest request) =>
        request.Headers.Accept.Any(a => a is not null && a.Contains("text/event-stream", StringComparison.OrdinalIgnoreCase));

    /// <summary>Where a reader resumes: <c>?after=</c>, else the <c>Last-Event-ID</c> an event-stream client sends back; null when unreadable.</summary>
    private static long? ResumePosition(HttpRequest request, string? after)
    {
        var text = after ?? request.Headers["Last-Event-ID"].FirstOrDefault();
        if (string.IsNullOrEmpty(text))
        {
            return 0;
        }

        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var position) ? position : null;
    }

    /// <summary>
    /// The body, or null when it is larger than <paramref name="limit"/>: refused by its declared length unread, or as
    /// soon as reading passes the limit, so a large body costs at most the limit.
    /// </summary>
    private static async Task<byte[]?> ReadBoundedAsync(HttpRequest request, int limit)
    {
        if (request.ContentLength > limit)
        {
            return null;
        }

        var buffer = new byte[Math.Min(limit + 1, (int)(request.ContentLength ?? 64 * 1024) + 1)];
        var length = 0;
        int read;
        while ((read = await request.Body.ReadAsync(buffer.AsMemory(length), request.HttpContext.RequestAborted)) > 0)
        {
            length += read;
            if (length > limit)
            {
                return null;
            }

            if (length == buffer.Length)
            {
                Array.Resize(ref buffer, Math.Min(limit + 1, buffer.Length * 2));
            }
        }

        return buffer[..length];
    }

    /// <summary>
    /// Answers every error status that has no body yet (no route, wrong method, a request that could not be bound)
    /// with the same JSON shape as the routes' own errors.
    /// </summary>
    public static void UseJsonStatusCodes(this IApplicationBuilder app) =>
        app.UseStatusCodePages(async context =>
        {
            var http = context.HttpContext;
            var reason = Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(http.Response.StatusCode);
            await Results.Json(new { message = $"{reason}: {http.Request.Method} {http.Request.Path}" }, statusCode: http.Response.StatusCode)
                .ExecuteAsync(http);
        });

    private static IResult ToResult(CommandResult result) => result.Accepted ? Results.Ok(result) : Refused(result);

    private static IResult Refused(CommandResult result) =>
        result.Status is null ? Results.NotFound(result) : Results.Conflict(result);
}

/// <summary>Answers 503 when the status store (ClickHouse) cannot be reached; the details go to the log, not to callers.</summary>
public sealed partial class StatusStoreFilter(ILogger<StatusStoreFilter> logger) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        try
        {
            return await next(context);
        }
        catch (Exception ex) when (IsUnavailable(ex, context.HttpContext.RequestAborted))
        {
            LogUnavailable(ex, context.HttpContext.Request.Path);
            return Results.Json(new { message = Describe(ex) }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    private static bool IsUnavailable(Exception exception, CancellationToken request) => StatusStoreFailures.IsUnavailable(exception, request);

    private static string Describe(Exception exception) => StatusStoreFailures.Describe(exception);

    [LoggerMessage(1, LogLevel.Warning, "The status store did not answer {Path}")]
    private partial void LogUnavailable(Exception exception, string path);
}
