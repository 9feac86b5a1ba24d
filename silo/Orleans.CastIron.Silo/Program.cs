using System.Text.Json;
using System.Text.Json.Serialization;
using Orleans.CastIron.Grains;
using Orleans.CastIron.Silo;
using Orleans.CastIron.Silo.Api;
using Orleans.CastIron.Silo.Services;
using Orleans.Dashboard;

// appsettings.json ships beside the binary; ./data stays relative to where the silo is started.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Configuration.AddSeedEnvironment();
var castIron = builder.Configuration.GetSection("CastIron");

// The embedded default: one silo on localhost, the local folder store, file-based state. The distributed setup
// (Kafka, MinIO, ClickHouse) replaces these registrations when configured.
builder.UseOrleans(silo =>
{
    silo.UseLocalhostClustering();
    silo.AddCastIron(castIron);
    silo.Services.AddCastIronLocalFolder(
        castIron["Bucket"] ?? new CastIronOptions().Bucket,
        CastIronNames.GrainStorage,
        options => castIron.GetSection("LocalFolder").Bind(options));
    silo.AddDashboard();
});

builder.Services.AddOptions<ApiOptions>().Bind(castIron.GetSection("Api"));
builder.Services.AddSingleton<CastIronService>();
builder.Services.AddOpenApi();
builder.Services.ConfigureHttpJsonOptions(o =>
{
    o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
    o.SerializerOptions.Converters.Add(new JsonStringEnumConverter());
});

var app = builder.Build();
app.MapOpenApi();
app.MapOrleansDashboard(routePrefix: "/dashboard");
app.MapCastIronApi();
app.Run();

/// <summary>Entry point; public so that host tests can reference the assembly.</summary>
public partial class Program;
