using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.CastIron.Client;

namespace Orleans.CastIron.Cli;

/// <summary>Connects to the cluster for one command and turns what goes wrong into a message and an exit code.</summary>
internal static class Connection
{
    public static async Task<int> RunAsync(string? gateway, Output output, Func<ICastIronClient, Task<int>> command)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        if (output.Environment is { } environment)
        {
            builder.Configuration.AddInMemoryCollection(environment);
        }
        else
        {
            builder.Configuration.AddEnvironmentVariables();
        }

        if (!string.IsNullOrWhiteSpace(gateway))
        {
            builder.Configuration["CastIron:Client:Gateways:0"] = gateway;
        }

        // The client's own logging would interleave with the output; failures reach the user as messages.
        builder.Logging.ClearProviders();
        IHost host;
        try
        {
            builder.Services.AddCastIronClient(builder.Configuration);
            host = builder.Build();
        }
        catch (OptionsValidationException ex)
        {
            output.Error(string.Join("; ", ex.Failures));
            return CliApp.Usage;
        }

        using (host)
        {
            var where = Where(builder.Configuration);
            try
            {
                await host.StartAsync();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                output.Error($"cannot reach the cluster at {where}: {Describe(ex)}");
                return CliApp.Unreachable;
            }

            try
            {
                return await command(host.Services.GetRequiredService<ICastIronClient>());
            }
            catch (ArgumentException ex)
            {
                // The cluster refused the input (no such config, a name it does not take): the message says why.
                output.Error(ex.Message);
                return CliApp.Usage;
            }
            catch (Exception ex) when (ex is Orleans.Runtime.SiloUnavailableException or Orleans.Runtime.OrleansMessageRejectionException or TimeoutException)
            {
                output.Error($"the cluster at {where} stopped answering: {Describe(ex)}");
                return CliApp.Unreachable;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // E.g. its status store is down: the cluster is there but cannot answer this.
                output.Error($"the cluster could not answer: {Describe(ex)}");
                return CliApp.Unreachable;
            }
            finally
            {
                await host.StopAsync(CancellationToken.None);
            }
        }
    }

    /// <summary>Where the client looked for the cluster, for messages.</summary>
    private static string Where(IConfiguration configuration)
    {
        var redis = configuration["CastIron:Client:Redis"] ?? configuration["CASTIRON_REDIS"];
        if (!string.IsNullOrWhiteSpace(redis) && redis != "UNSET")
        {
            return $"Redis {redis}";
        }

        return configuration["CastIron:Client:Gateways:0"] ?? configuration["CASTIRON_GATEWAY"] ?? CastIronClientOptions.DefaultGateway;
    }

    /// <summary>What went wrong, in a line: Redis' own messages run to a screenful of connection diagnostics.</summary>
    private static string Describe(Exception ex)
    {
        for (var inner = (Exception?)ex; inner is not null; inner = inner.InnerException)
        {
            if (inner is StackExchange.Redis.RedisConnectionException redis)
            {
                return $"Redis does not answer ({redis.FailureType})";
            }
        }

        return ex.Message;
    }
}
