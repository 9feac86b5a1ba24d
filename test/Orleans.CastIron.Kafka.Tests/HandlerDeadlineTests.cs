using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Orleans.CastIron.Streaming.Kafka;
using Orleans.CastIron.Streaming.Kafka.Providers;
using Orleans.Configuration;
using Orleans.Hosting;

namespace Orleans.CastIron.Kafka.Tests;

/// <summary>
/// A silo whose calls time out after 2 s (so the pulling agent delivers a record again after 2 s without an answer,
/// for up to 5 s), with a 0.5 s handler deadline, and whose dead letters fail once for records that ask for it.
/// </summary>
public sealed class HandlerDeadlineFixture : KafkaSiloFixture
{
    public static readonly TimeSpan HandlerTimeout = TimeSpan.FromMilliseconds(500);

    protected override void ConfigureKafka(CastIronKafkaOptions options) => options.HandlerTimeout = HandlerTimeout;

    protected override void ConfigureSilo(ISiloBuilder silo)
    {
        silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(2));
        silo.Services.Configure<StreamPullingAgentOptions>(CastIronKafkaOptions.StreamProvider, o => o.MaxEventDeliveryTime = TimeSpan.FromSeconds(5));
        silo.Services.AddSingleton<IKafkaDeadLetterSink>(sp => new FlakyDeadLetterSink(sp.GetRequiredKeyedService<KafkaDeadLetters>(CastIronKafkaOptions.StreamProvider)));
    }
}

/// <summary>
/// The provider's dead letters, except that the first attempt for a record whose value holds <see cref="FailOnce"/>
/// fails, and for one holding <see cref="SlowOnce"/> takes 3 s (past the response timeout).
/// </summary>
public sealed class FlakyDeadLetterSink(KafkaDeadLetters inner) : IKafkaDeadLetterSink
{
    public const string FailOnce = "dead-letter-fails-once";

    public const string SlowOnce = "dead-letter-slow-once";

    /// <summary>Attempts by record key.</summary>
    public static readonly ConcurrentDictionary<string, int> Attempts = new();

    public async Task SendAsync(KafkaRecord record, string reason, CancellationToken cancellationToken = default)
    {
        var first = Attempts.AddOrUpdate(record.Key ?? "", 1, (_, n) => n + 1) == 1;
        var value = Encoding.UTF8.GetString(record.Value);
        if (first && value.Contains(FailOnce, StringComparison.Ordinal))
        {
            throw new KafkaException(Confluent.Kafka.ErrorCode.Local_MsgTimedOut);
        }

        if (first && value.Contains(SlowOnce, StringComparison.Ordinal))
        {
            await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken);
        }

        await inner.SendAsync(record, reason, cancellationToken);
    }
}

public class HandlerDeadlineTests(HandlerDeadlineFixture silo) : IClassFixture<HandlerDeadlineFixture>
{
    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out waiting for {what}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Sends a payload for <paramref name="handler"/>, keyed and marked (<c>arg1</c>) by <paramref name="marker"/>,
    /// carrying <paramref name="requestId"/> as a sender awaiting its outcome does.
    /// </summary>
    private async Task SendAsync(string handler, string marker, string data = "x", string? requestId = null)
    {
        using var producer = silo.Kafka.CreateProducer();
        await producer.ProduceAsync(silo.TextTopic, new Message<string?, string>
        {
            Key = marker,
            Value = JsonSerializer.Serialize(new { worker_run_method = handler, data, arg1 = marker }),
            Headers = requestId is null ? null : new Headers { { Grains.PayloadOutcomes.RequestIdHeader, Encoding.UTF8.GetBytes(requestId) } },
        });
    }

    private Task<Grains.PayloadOutcome?> OutcomeAsync(string requestId) =>
        silo.Cluster.Client.GetGrain<Grains.IPayloadOutcomeGrain>(requestId).WaitAsync(TimeSpan.FromSeconds(25));

    [Fact]
    public async Task AnAwaitedPayload_ReportsItsDeadline_AndADeadLetterSentOnlyWhenTheRecordCameAgain_OnceItIsSent()
    {
        var timedOut = Guid.NewGuid().ToString("N");
        var owed = Guid.NewGuid().ToString("N");

        await SendAsync("test.payload.stubborn", timedOut, requestId: timedOut);
        await SendAsync("test.payload.count-fail", owed, FlakyDeadLetterSink.FailOnce, requestId: owed);
        var late = await OutcomeAsync(timedOut);
        var failed = await OutcomeAsync(owed);

        Assert.NotNull(late);
        Assert.False(late.Handled);
        Assert.Equal($"timeout: handler 'test.payload.stubborn' did not finish within {HandlerDeadlineFixture.HandlerTimeout}", late.Problem);
        Assert.Matches($"^{Regex.Escape(silo.TextTopic)}/\\d+@\\d+ on silo S", late.HandledAt);
        // Reported once the dead letter was sent (the second attempt), not when its first attempt failed.
        Assert.NotNull(failed);
        Assert.StartsWith("handler 'test.payload.count-fail' failed: InvalidOperationException", failed.Problem, StringComparison.Ordinal);
        Assert.Equal(2, FlakyDeadLetterSink.Attempts[owed]);
        Assert.Equal(1, CountingFailingHandler.Runs[owed]);
    }

    [Fact]
    public async Task ARequestIdHeaderThatNoClientMade_ReportsNothing_AndTheRecordIsHandledAsAnyOther()
    {
        var marker = Guid.NewGuid().ToString("N");
        var forged = "req-" + marker;

        // Any producer can set headers: a 100,000-character one must not become a grain key.
        await SendAsync("test.payload.count-fail", marker, requestId: forged + new string('x', 100_000));
        await SendAsync("test.payload.count-fail", marker + "-2", requestId: forged);

        Assert.Single(DeadLetterReasons(marker));
        Assert.Single(DeadLetterReasons(marker + "-2"));
        Assert.Null(await silo.Cluster.Client.GetGrain<Grains.IPayloadOutcomeGrain>(forged).WaitAsync(TimeSpan.Zero));
    }

    /// <summary>The dead letters of <paramref name="marker"/>'s record, once none came for 3 s.</summary>
    private List<string> DeadLetterReasons(string marker) =>
        [.. silo.Kafka.ReadAll($"{silo.TextTopic}-dlq", 1, TimeSpan.FromSeconds(30), quiet: TimeSpan.FromSeconds(3))
            .Where(d => d.Message.Key == marker)
            .Select(d => Encoding.UTF8.GetString(d.Message.Headers.GetLastBytes("castiron-error")))];

    [Fact]
    public async Task AHandlerRunningPastItsDeadline_RunsOnce_AndItsRecordIsDeadLetteredAsTimedOut()
    {
        var marker = Guid.NewGuid().ToString("N");

        // 3 s: past the deadline, and past the response timeout after which the agent would deliver it again.
        await SendAsync("test.payload.stubborn", marker);
        await WaitUntilAsync(() => StubbornHandler.Finished.ContainsKey(marker), "the stubborn handler to finish");
        var reasons = DeadLetterReasons(marker);

        Assert.Equal(1, StubbornHandler.Runs[marker]);
        var reason = Assert.Single(reasons);
        Assert.Equal($"timeout: handler 'test.payload.stubborn' did not finish within {HandlerDeadlineFixture.HandlerTimeout}", reason);
    }

    [Fact]
    public async Task AHandlerHonouringItsToken_SeesItCancelledAtTheDeadline()
    {
        var marker = Guid.NewGuid().ToString("N");

        await SendAsync("test.payload.cooperative", marker);
        await WaitUntilAsync(() => CooperativeHandler.CancelledAfter.ContainsKey(marker), "the cooperative handler's token to be cancelled");
        var reasons = DeadLetterReasons(marker);

        Assert.InRange(CooperativeHandler.CancelledAfter[marker], HandlerDeadlineFixture.HandlerTimeout - TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(5));
        Assert.Equal(1, CooperativeHandler.Runs[marker]);
        Assert.StartsWith("timeout: handler 'test.payload.cooperative' did not finish within", Assert.Single(reasons), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ADeadLetterThatFailed_IsSentWhenTheRecordComesAgain_WithoutRunningTheHandlerAgain()
    {
        var marker = Guid.NewGuid().ToString("N");

        await SendAsync("test.payload.count-fail", marker, FlakyDeadLetterSink.FailOnce);
        await WaitUntilAsync(() => FlakyDeadLetterSink.Attempts.GetValueOrDefault(marker) >= 2, "the dead letter to be tried again");
        var reasons = DeadLetterReasons(marker);

        Assert.Equal(1, CountingFailingHandler.Runs[marker]);
        Assert.Equal(2, FlakyDeadLetterSink.Attempts[marker]);
        Assert.StartsWith("handler 'test.payload.count-fail' failed: InvalidOperationException", Assert.Single(reasons), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARecordDeliveredAgainAfterItWasFinished_IsSkipped()
    {
        var marker = Guid.NewGuid().ToString("N");

        // The dead letter takes 3 s, so the call does not answer within the response timeout and the agent delivers
        // the record again, to be run once the dead letter is sent.
        await SendAsync("test.payload.count-fail", marker, FlakyDeadLetterSink.SlowOnce);
        var reasons = DeadLetterReasons(marker);
        await Task.Delay(TimeSpan.FromSeconds(1));

        Assert.Single(reasons);
        Assert.Equal(1, CountingFailingHandler.Runs[marker]);
        Assert.Equal(1, FlakyDeadLetterSink.Attempts[marker]);
    }
}
