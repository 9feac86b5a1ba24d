using Orleans.CastIron.Files;
using Orleans.CastIron.Grains;
using Orleans.CastIron.Jobs;
using Orleans.CastIron.Silo.Services;

namespace Orleans.CastIron.Silo.Api;

/// <summary>The REST API: the seed's <c>/manager/*</c> routes plus file, processor and job routes.</summary>
public static class Endpoints
{
    public static void MapCastIronApi(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var open = app.MapGroup("");
        var guarded = app.MapGroup("").AddEndpointFilter<ApiKeyFilter>();

        open.MapGet("/manager/health", () => Results.Ok(new { message = "Running" }));
        open.MapGet("/manager/status", async (CastIronService service, CancellationToken ct) =>
            Results.Ok(new { message = await service.GetStatusAsync(ct) }));

        // The seed's routes are GETs although they change state; they keep working, behind the API key.
        guarded.MapGet("/manager/start-consumers", (CastIronService service) => service.ResumeIntake()
            ? Results.Ok("Successfully started all workers!")
            : Results.Conflict(new { message = "All Consumers already running" }));
        guarded.MapGet("/manager/stop-consumers", (CastIronService service) => service.PauseIntake()
            ? Results.Ok("Successfully Stopped all workers!")
            : Results.Conflict(new { message = "Consumers are already stopped" }));
        guarded.MapGet("/manager/cancel-record/{filename}", async (string filename, CastIronService service, CancellationToken ct) =>
        {
            // As in the seed, the "filename" is the file id; unlike the seed, failure is reported (B-14).
            var result = await service.CancelAsync(filename, ct);
            return result.Accepted ? Results.Ok($"Successfully canceled task for filename: {filename}") : Refused(result);
        });

        open.MapGet("/files/{id}", async (string id, CastIronService service, CancellationToken ct) =>
            await service.GetFileAsync(id, ct) is { } record ? Results.Ok(record) : Results.NotFound(new { message = $"no file with id '{id}'" }));
        open.MapGet("/files", async (string? status, int? limit, CastIronService service, CancellationToken ct) =>
        {
            FileStatus? filter = null;
            if (status is not null)
            {
                if (!FileStatusRules.TryParse(status, out var parsed))
                {
                    return Results.BadRequest(new { message = $"'{status}' is not a status; use one of {string.Join(", ", Enum.GetNames<FileStatus>())}" });
                }

                filter = parsed;
            }

            if (limit is < 1 or > 100_000)
            {
                return Results.BadRequest(new { message = "limit must be between 1 and 100000" });
            }

            return Results.Ok(await service.QueryFilesAsync(filter, limit ?? 1000, ct));
        });
        guarded.MapPost("/files/{id}/cancel", async (string id, CastIronService service, CancellationToken ct) => ToResult(await service.CancelAsync(id, ct)));
        guarded.MapPost("/files/{id}/retry", async (string id, CastIronService service, CancellationToken ct) => ToResult(await service.RetryAsync(id, ct)));

        open.MapGet("/processors", async (CastIronService service) => Results.Ok(await service.GetProcessorsAsync()));
        open.MapPost("/processors/validate", async (HttpRequest request, CastIronService service) =>
        {
            using var reader = new StreamReader(request.Body);
            var text = await reader.ReadToEndAsync(request.HttpContext.RequestAborted);
            var result = await service.ValidateConfigAsync(request.Query["name"].FirstOrDefault() ?? "config.toml", text);
            return result.IsValid ? Results.Ok(result) : Results.UnprocessableEntity(result);
        });

        open.MapGet("/jobs/{jobId}/events", (string jobId, CastIronService service) =>
        {
            var events = service.GetJobEvents(jobId);
            // The exact seed JSON of each event.
            return events.Count == 0
                ? Results.NotFound(new { message = $"no events for job '{jobId}' on this silo" })
                : Results.Text("[" + string.Join(",", events.Select(JobEventJson.Serialize)) + "]", "application/json");
        });
    }

    private static IResult ToResult(CommandResult result) => result.Accepted ? Results.Ok(result) : Refused(result);

    private static IResult Refused(CommandResult result) =>
        result.Status is null ? Results.NotFound(result) : Results.Conflict(result);
}
