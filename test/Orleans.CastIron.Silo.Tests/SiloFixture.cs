using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Orleans.CastIron.Silo.Tests;

/// <summary>
/// The real silo host (Kestrel on loopback, Orleans on free local ports, the folder store in a temp folder), started
/// as the README's quick start starts it, with an API key configured.
/// </summary>
public sealed class SiloFixture : IAsyncLifetime
{
    public const string ApiKey = "test-key-123";

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "castiron-silo-tests", Guid.NewGuid().ToString("N"));

    public WebApplication App { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public string BucketPath => Path.Combine(Root, "etl");

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string[] Arguments(string root, string? apiKey = null) =>
    [
        "--urls", "http://127.0.0.1:0",
        $"--CastIron:LocalFolder:RootPath={root}",
        "--CastIron:LocalFolder:ScanInterval=00:00:00.250",
        "--CastIron:LocalFolder:SettleTime=00:00:00.100",
        "--CastIron:RecoveryInterval=00:00:01",
        $"--CastIron:Cluster:SiloPort={FreePort()}",
        $"--CastIron:Cluster:GatewayPort={FreePort()}",
        $"--CastIron:Api:ApiKey={apiKey ?? ""}",
        $"--CastIron:Processing:WorkPath={Path.Combine(root, "work")}",
    ];

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(BucketPath);
        App = SiloHost.Build(Arguments(Root, ApiKey), new Dictionary<string, string?>());
        await App.StartAsync();
        var address = App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Http = new HttpClient { BaseAddress = new Uri(address) };
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }

    public async Task DropAsync(string key, string content)
    {
        var path = Path.Combine(BucketPath, key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, content);
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, Func<string> describe)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out waiting for {describe()}");
            }

            await Task.Delay(50);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class SiloCollection : ICollectionFixture<SiloFixture>
{
    public const string Name = "silo";
}
