using Orleans.Dashboard;

var builder = WebApplication.CreateBuilder(args);

builder.UseOrleans(silo =>
{
    silo.UseLocalhostClustering();
    silo.AddDashboard();
});
builder.Services.AddOpenApi();

var app = builder.Build();
app.MapOpenApi();
app.MapOrleansDashboard(routePrefix: "/dashboard");
app.MapGet("/manager/health", () => Results.Ok(new { message = "Running" }));

app.Run();

/// <summary>Entry point; public so that host tests can reference the assembly.</summary>
public partial class Program;
