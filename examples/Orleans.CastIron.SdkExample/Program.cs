// Usage: dotnet run --project examples/Orleans.CastIron.SdkExample -- <file> <config key>
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.CastIron.Client;

var builder = Host.CreateApplicationBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Warning);             // the Orleans client's own chatter off
builder.Services.AddCastIronClient(builder.Configuration);
using var host = builder.Build();
await host.StartAsync();
var castIron = host.Services.GetRequiredService<ICastIronClient>();
var file = await castIron.SubmitAsync(args[0], args[1]);
Console.WriteLine($"submitted {file.FileId}");
await foreach (var update in castIron.WatchAsync(file.FileId))
{
    Console.WriteLine($"{update.Sequence} {update.Event.Type} progress={update.Event.Progress} task={update.Event.Task} status={update.Event.Status}");
}
Console.WriteLine((await castIron.GetFileAsync(file.FileId))!.Status);
