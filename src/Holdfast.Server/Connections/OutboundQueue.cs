using System.Threading.Tasks.Sources;
using Holdfast.Protocol;

namespace Holdfast.Server.Connections;

/// <summary>A packet queued for writing, and the store sequence that must be durable before it goes out.</summary>
internal readonly record struct Outbound(OutboundPacket Packet, long DurableAt);

/// <summary>
/// A connection's packets waiting to be written: many producers (the broker, from any thread), one consumer (the write
/// loop), which takes everything queued at once so that a burst goes out in one write. Built for an idle connection to
/// cost little: the buffers are allocated on first use and handed back and forth between producers and consumer, and
/// the wait reuses one awaitable (no allocation per wake-up). A Channel&lt;T&gt; cost about 1.3 KB per connection even
/// when empty, most of it for a queue that is empty nearly all the time.
/// </summary>
internal sealed class OutboundQueue : IValueTaskSource<bool>
{
    private const int FirstCapacity = 4;

    /// <summary>A buffer that grew past this many packets (a burst to a slow client) is not kept once written.</summary>
    private const int LargestKept = 256;

    private readonly Lock _gate = new();
    private Outbound[] _filling = [];
    private int _count;
    private Outbound[] _spare = [];
    private bool _completed;
    private bool _waiting;
    // Continuations run on the thread pool: a producer adds under a session shard's lock and must never run the write loop there.
    private ManualResetValueTaskSourceCore<bool> _wakeUp = new() { RunContinuationsAsynchronously = true };

    /// <summary>Queues a packet; false once <see cref="Complete"/> was called (the packet is not queued).</summary>
    public bool TryAdd(Outbound item)
    {
        bool wake;
        lock (_gate)
        {
            if (_completed) return false;
            if (_count == _filling.Length) Array.Resize(ref _filling, Math.Max(FirstCapacity, _count * 2));
            _filling[_count++] = item;
            wake = _waiting;
            _waiting = false;
        }
        if (wake) _wakeUp.SetResult(true);
        return true;
    }

    /// <summary>No more packets: the consumer gets what is queued, then false from <see cref="WaitToReadAsync"/>.</summary>
    public void Complete()
    {
        bool wake;
        lock (_gate)
        {
            if (_completed) return;
            _completed = true;
            wake = _waiting;
            _waiting = false;
        }
        if (wake) _wakeUp.SetResult(false);
    }

    /// <summary>True when packets are queued (at once if there are some), false when completed and empty. One consumer only.</summary>
    public ValueTask<bool> WaitToReadAsync()
    {
        lock (_gate)
        {
            if (_count > 0) return new ValueTask<bool>(true);
            if (_completed) return new ValueTask<bool>(false);
            _wakeUp.Reset();
            _waiting = true;
            return new ValueTask<bool>(this, _wakeUp.Version);
        }
    }

    /// <summary>Takes every queued packet, in order. Give the batch back with <see cref="Recycle"/> once written.</summary>
    public bool TryTakeAll(out Batch batch)
    {
        lock (_gate)
        {
            if (_count == 0) { batch = default; return false; }
            batch = new Batch(_filling, _count);
            _filling = _spare;
            _spare = [];
            _count = 0;
            return true;
        }
    }

    /// <summary>Returns a written batch's buffer for reuse, without the references it held.</summary>
    public void Recycle(Batch batch)
    {
        Array.Clear(batch.Items, 0, batch.Count);
        if (batch.Items.Length > LargestKept) return;
        lock (_gate)
        {
            if (_spare.Length == 0) _spare = batch.Items;
        }
    }

    /// <summary>Packets taken together: <see cref="Items"/>[0 .. <see cref="Count"/>).</summary>
    public readonly record struct Batch(Outbound[] Items, int Count);

    bool IValueTaskSource<bool>.GetResult(short token) => _wakeUp.GetResult(token);
    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _wakeUp.GetStatus(token);
    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _wakeUp.OnCompleted(continuation, state, token, flags);
}
