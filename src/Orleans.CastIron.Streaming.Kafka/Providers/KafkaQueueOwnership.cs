using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Storage;

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
/// Holds a queue's claim, kept in <see cref="KafkaStreamOptions.ClaimStorage"/> when one is named (written when the
/// claim changes hands, not at renewals), else in memory. Epochs come from the clock (milliseconds, never going back,
/// and never below a stored one), so a new reader's sequence tokens are always newer than an old reader's: a consumer
/// asking the new reader for an old token misses the cache and restarts at the stream's first record there instead
/// of skipping ahead.
/// </summary>
internal sealed class KafkaQueueOwnershipGrain(IClusterMembershipService membership, TimeProvider time, IServiceProvider services) : Grain, IKafkaQueueOwnershipGrain
{
    private const string StateName = "kafka-queue-claim";

    private readonly GrainState<QueueClaim> _stored = new(new QueueClaim());
    private IGrainStorage? _storage;
    private Guid _reader;
    private SiloAddress? _silo;
    private long _epoch;
    private DateTimeOffset _expires;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // The key starts with the provider's name: its options say where claims are kept.
        var key = this.GetPrimaryKeyString();
        var options = services.GetOptionsByName<KafkaStreamOptions>(key[..Math.Max(0, key.IndexOf('/', StringComparison.Ordinal))]);
        if (options.ClaimStorage is not { } storage)
        {
            return;
        }

        _storage = services.GetRequiredKeyedService<IGrainStorage>(storage);
        await _storage.ReadStateAsync(StateName, GrainContext.GrainId, _stored);
        var claim = _stored.State ?? new QueueClaim();
        (_reader, _silo, _epoch) = (claim.Reader, claim.Silo, claim.Epoch);
        // When it last renewed is not kept: a holder whose silo is alive renews within a lease from now, or lapses then.
        // One of a silo the cluster does not know (the whole cluster restarted: every silo has a new generation) is free
        // at once, so a restart does not wait out a lease before reading.
        var holderAlive = _silo is not null && membership.CurrentSnapshot.GetSiloStatus(_silo) is not (SiloStatus.Dead or SiloStatus.None);
        _expires = holderAlive ? time.GetUtcNow() + options.OwnershipLease : time.GetUtcNow();
    }

    public async Task<long> TryAcquireAsync(Guid reader, SiloAddress silo, TimeSpan lease)
    {
        var now = time.GetUtcNow();
        if (_reader != Guid.Empty && _reader != reader && now < _expires && !IsDead(_silo))
        {
            return 0L;
        }

        var epoch = Math.Max(_epoch + 1, now.ToUnixTimeMilliseconds());
        await StoreAsync(reader, silo, epoch);
        _expires = now + lease;
        return epoch;
    }

    public async Task<bool> RenewAsync(Guid reader, long epoch, SiloAddress silo, TimeSpan lease)
    {
        if (_reader == Guid.Empty && epoch > _epoch)
        {
            // Nobody holds it as far as this activation knows (new, with nothing stored): the renewing reader still
            // does. Not a reader that let go (its epoch is the stored one): a renewal overtaken by its release.
            await StoreAsync(reader, silo, epoch);
        }

        if (_reader != reader || _epoch != epoch)
        {
            return false;
        }

        _expires = time.GetUtcNow() + lease;
        return true;
    }

    public async Task ReleaseAsync(Guid reader, long epoch)
    {
        if (_reader == reader && _epoch == epoch)
        {
            await StoreAsync(Guid.Empty, null, epoch);
        }
    }

    /// <summary>The claim as it now is, stored first: a claim that could not be stored is not given.</summary>
    private async Task StoreAsync(Guid reader, SiloAddress? silo, long epoch)
    {
        if (_storage is not null)
        {
            _stored.State = new QueueClaim { Reader = reader, Silo = silo, Epoch = epoch };
            await _storage.WriteStateAsync(StateName, GrainContext.GrainId, _stored);
        }

        (_reader, _silo, _epoch) = (reader, silo, epoch);
    }

    // Dead only: a silo this one does not know yet (None) may have just joined; a long-gone one's claim lapses anyway.
    private bool IsDead(SiloAddress? silo) => silo is not null && membership.CurrentSnapshot.GetSiloStatus(silo) == SiloStatus.Dead;
}

/// <summary>A queue's claim as stored.</summary>
[GenerateSerializer, Alias("castiron.KafkaQueueClaim")]
internal sealed class QueueClaim
{
    [Id(0)] public Guid Reader { get; set; }

    [Id(1)] public SiloAddress? Silo { get; set; }

    [Id(2)] public long Epoch { get; set; }
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
