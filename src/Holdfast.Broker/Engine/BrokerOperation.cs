using System.Runtime.InteropServices;
using Holdfast.Broker.Storage;
using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>
/// One broker operation (a packet handled, a timer tick, a shutdown): the store changes it records, in one change set,
/// and what it hands to connections. At the end (<see cref="Dispose"/>, still under the lock that guarded the operation)
/// the change set is committed, and only then are the packets and closes held back passed on, in the order they were
/// made: a packet that vouches for the operation's changes is stamped with the commit's sequence, which is known only
/// then, and a packet behind it keeps its place. A packet with nothing held back before it goes to its connection at once
/// when it needs no sequence (it waits for no changes, or the store records none): the order is the same, and most
/// operations then hold nothing back.
///
/// It holds no broker state: each session shard keeps one for its lock (an operation over several shards uses the lowest
/// one's). It is reused from one operation to the next, so an operation allocates nothing here.
/// </summary>
internal sealed class BrokerOperation(IBrokerStore store) : IDisposable
{
    private readonly List<Outbound> _outbound = [];
    private List<(Session Session, WillMessage Will, PendingWill? Pending)>? _wills;
    // A store that records nothing commits nothing: no packet has a sequence to wait for.
    private readonly bool _recordsNothing = store is UnrecordedStore;

    public IChangeSet Changes { get; } = store.BeginChanges();

    /// <summary>Between <see cref="Start"/> and <see cref="Dispose"/>; an operation begun inside another takes a new instance.</summary>
    public bool InUse { get; private set; }

    public BrokerOperation Start()
    {
        InUse = true;
        return this;
    }

    /// <summary>Hands <paramref name="packet"/> to the connection, at once or at the end (see above). With
    /// <paramref name="waitsForChanges"/> it is stamped with this operation's commit sequence (0, no wait, when the
    /// operation changed nothing stored).</summary>
    public void Send(IClientConnection connection, OutboundPacket packet, bool waitsForChanges = false)
    {
        if (_outbound.Count == 0 && (!waitsForChanges || _recordsNothing)) connection.Send(packet);
        else _outbound.Add(new Outbound(connection, packet, waitsForChanges, Closes: false, null));
    }

    /// <summary>Closes the connection after what was sent before it in this operation, with the broker's goodbye if any
    /// (see <see cref="IClientConnection.Close"/>).</summary>
    public void Close(IClientConnection connection, MqttPacket? goodbye = null) =>
        _outbound.Add(new Outbound(connection, default, false, Closes: true, goodbye));

    /// <summary>Routing one message to its sessions, without allocating (the operation is its holder's alone).</summary>
    public RouteScratch Routing { get; } = new();

    /// <summary>A will to publish once this operation's locks are released: its routing may need the locks of other
    /// shards, which may only be taken in order (see <see cref="OperationScope"/>).</summary>
    /// <param name="pending">The session's pending will this is, when it is kept as one until published (null: not kept).</param>
    public void PublishWillAfter(Session session, WillMessage will, PendingWill? pending) => (_wills ??= []).Add((session, will, pending));

    /// <summary>The wills left to publish; taken before the locks are released, since the next holder reuses this instance.</summary>
    public List<(Session Session, WillMessage Will, PendingWill? Pending)>? TakeWills()
    {
        var wills = _wills;
        _wills = null;
        return wills;
    }

    /// <summary>Commits the changes, then hands the packets and closes to their connections.</summary>
    public void Dispose()
    {
        try
        {
            long sequence = Changes.Commit();
            foreach (ref readonly var o in CollectionsMarshal.AsSpan(_outbound))
            {
                if (o.Closes) o.Connection.Close(o.Goodbye);
                else o.Connection.Send(o.Packet, o.WaitsForChanges ? sequence : 0);
            }
        }
        finally
        {
            _outbound.Clear();
            InUse = false;
        }
    }

    private readonly record struct Outbound(IClientConnection Connection, OutboundPacket Packet, bool WaitsForChanges, bool Closes,
        MqttPacket? Goodbye);
}
