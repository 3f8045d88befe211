using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>What became of a PUBLISH handed to the broker, for the connection that read it.</summary>
/// <param name="PacketKept">The broker keeps the packet object (an MQTT 3.1.1 publish held back by a full queue, or one
/// waiting behind it): the reader must not read another packet into it.</param>
/// <param name="ReadingResumes">Completes when the connection may read from the client again. Completed at once, unless
/// so many of the client's publishes are held back that the broker stops taking more: that is the 3.1.1 back-pressure,
/// and while it lasts the client's silence is the broker's doing (keep-alive does not apply).</param>
public readonly record struct PublishReceipt(bool PacketKept, Task ReadingResumes)
{
    public static readonly PublishReceipt Done = new(false, Task.CompletedTask);
}

/// <summary>An MQTT 3.1.1 client's publishes held back while a subscriber queue is full (queue_full_policy block): the
/// first waits for room, later ones wait behind it in order. Acknowledgements, PINGREQ and DISCONNECT are still read and
/// handled meanwhile, so a client can never block itself (or its peers) by not being able to deliver its own PUBACKs.
/// Guarded by the lock of the client's session shard.</summary>
internal sealed class HeldPublishes
{
    /// <summary>Publishes held at once before the broker stops taking more (the connection stops reading).</summary>
    public const int Limit = 64;

    private readonly Queue<PublishPacket> _waiting = new();
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when every held publish has been accepted, or the connection ended.</summary>
    public Task Released => _released.Task;

    public int Count => _waiting.Count;

    public void Add(PublishPacket packet) => _waiting.Enqueue(packet);

    public bool TryTakeNext(out PublishPacket packet) => _waiting.TryDequeue(out packet!);

    /// <summary>All accepted, or the connection ended (what was held was never acknowledged: the publisher still owns it).</summary>
    public void Release() => _released.TrySetResult();
}
