using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Hosting;

namespace Orleans.CastIron.Kafka.Tests;

public class CastIronKafkaOptionsTests
{
    [Theory]
    [InlineData(30, "CastIron:Kafka:HandlerTimeout (00:00:30) must be shorter than Orleans' SiloMessagingOptions.ResponseTimeout (00:00:30)")]
    [InlineData(0, "CastIron:Kafka:HandlerTimeout (00:00:00) must be positive")]
    public async Task AHandlerTimeoutThatIsNotShorterThanTheResponseTimeout_StopsTheSiloAtStart(int seconds, string expected)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering();
            silo.AddCastIronKafka(configure: o =>
            {
                o.Broker = "localhost:9092";
                o.HandlerTimeout = TimeSpan.FromSeconds(seconds);
            });
        });
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
