using Orleans.Runtime;

namespace Orleans.CastIron.Streaming.Kafka.Providers;

/// <summary>
/// The fence between silos for one queue (key <c>provider/topic/queue</c>): Orleans' balancer may start the queue's
/// new reader before the old one has stopped, and both would read from the committed offset and commit over each
/// other. A reader reads and commits only while it holds the claim; the old reader commits and lets go on shutdown,
/// and its claim lapses when its silo is dead or it stops renewing.
/// </summary>
public interface IKafkaQueueOwnershipGrain : IGrainWithStringKey
{
    /// <summary>Claims the queue; the grant (epoch) is positive when given, 0 while another reader holds it.</summary>
    Task<long> TryAcquireAsync(Guid reader, SiloAddress silo, TimeSpan lease);

    /// <summary>Extends the claim; false when another reader has taken the queue since.</summary>
    Task<bool> RenewAsync(Guid reader, long epoch, SiloAddress silo, TimeSpan lease);

    /// <summary>Lets go of the queue (after the reader's last commit).</summary>
    Task ReleaseAsync(Guid reader, long epoch);
}

/// <summary>
/// Holds a queue's claim in memory. Epochs come from the clock (milliseconds, never going back), so a new reader's
/// sequence tokens are always newer than an old reader's even when this activation was lost in between: a consumer
/// asking the new reader for an old token misses the cache and restarts at the stream's first record there instead
/// of skipping ahead.
/// </summary>
internal sealed class KafkaQueueOwnershipGrain(IClusterMembershipService membership, TimeProvider time) : Grain, IKafkaQueueOwnershipGrain
{
    private Guid _reader;
    private SiloAddress? _silo;
    private long _epoch;
    private DateTimeOffset _expires;

    public Task<long> TryAcquireAsync(Guid reader, SiloAddress silo, TimeSpan lease)
    {
        var now = time.GetUtcNow();
        if (_reader != Guid.Empty && _reader != reader && now < _expires && !IsDead(_silo))
        {
            return Task.FromResult(0L);
        }

        _reader = reader;
        _silo = silo;
        _epoch = Math.Max(_epoch + 1, now.ToUnixTimeMilliseconds());
        _expires = now + lease;
        return Task.FromResult(_epoch);
    }

    public Task<bool> RenewAsync(Guid reader, long epoch, SiloAddress silo, TimeSpan lease)
    {
        if (_reader == Guid.Empty && epoch >= _epoch)
        {
            // This activation is new (the old one was lost with its silo): the renewing reader still holds the queue.
            _reader = reader;
            _silo = silo;
            _epoch = epoch;
        }

        if (_reader != reader || _epoch != epoch)
        {
            return Task.FromResult(false);
        }

        _expires = time.GetUtcNow() + lease;
        return Task.FromResult(true);
    }

    public Task ReleaseAsync(Guid reader, long epoch)
    {
        if (_reader == reader && _epoch == epoch)
        {
            _reader = Guid.Empty;
            _silo = null;
        }

        return Task.CompletedTask;
    }

    private bool IsDead(SiloAddress? silo) => silo is not null && membership.CurrentSnapshot.GetSiloStatus(silo) == SiloStatus.Dead;
}

/// <summary>What a receiver needs of the fence (a grain in a silo; a stand-in in unit tests).</summary>
internal interface IQueueFence
{
    Task<long> TryAcquireAsync(Guid reader);

    Task<bool> RenewAsync(Guid reader, long epoch);

    Task ReleaseAsync(Guid reader, long epoch);
}

/// <summary>The fence of one queue through its ownership grain.</summary>
internal sealed class GrainQueueFence(IGrainFactory grains, string key, SiloAddress silo, TimeSpan lease) : IQueueFence
{
    private readonly IKafkaQueueOwnershipGrain _grain = grains.GetGrain<IKafkaQueueOwnershipGrain>(key);

    public Task<long> TryAcquireAsync(Guid reader) => _grain.TryAcquireAsync(reader, silo, lease);

    public Task<bool> RenewAsync(Guid reader, long epoch) => _grain.RenewAsync(reader, epoch, silo, lease);

    public Task ReleaseAsync(Guid reader, long epoch) => _grain.ReleaseAsync(reader, epoch);
}
