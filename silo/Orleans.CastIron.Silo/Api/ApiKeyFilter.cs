using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Orleans.CastIron.Silo.Api;

/// <summary>Requires <see cref="ApiOptions.ApiKey"/> in the <c>X-Api-Key</c> header when one is configured.</summary>
public sealed class ApiKeyFilter(IOptions<ApiOptions> options) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var expected = options.Value.ApiKey;
        if (!string.IsNullOrEmpty(expected))
        {
            var given = context.HttpContext.Request.Headers[ApiOptions.HeaderName].ToString();
            if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(expected)))
            {
                return Results.Json(new { message = $"this route changes state: send the API key in the {ApiOptions.HeaderName} header" }, statusCode: StatusCodes.Status401Unauthorized);
            }
        }

        return await next(context);
    }
}

/// <summary>The webhook's token check: <c>Authorization: Bearer &lt;token&gt;</c>, a bare <c>Authorization</c> value (older MinIO) or <c>?token=</c>.</summary>
public static class WebhookToken
{
    public static bool Matches(HttpRequest request, string expected)
    {
        ArgumentNullException.ThrowIfNull(request);
        var header = request.Headers.Authorization.ToString();
        var given = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : header.Length > 0 ? header.Trim() : request.Query["token"].ToString();
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(expected));
    }
}
