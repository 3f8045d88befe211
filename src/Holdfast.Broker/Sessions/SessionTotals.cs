using System.Diagnostics;

namespace Holdfast.Broker;

/// <summary>What the broker's sessions hold, added up as it changes so that a status snapshot costs nothing per session.
/// Kept by the sessions themselves (see <see cref="Session"/>) while they are in a <see cref="SessionShard"/>, one per
/// shard. Guarded by that shard's lock.</summary>
internal sealed class SessionTotals
{
    public int ClientsConnected;
    public long InflightMessages;
    public long QueuedMessages;
    /// <summary>Bytes in memory: queued messages of the queues' heads plus inflight ones (<see cref="Message.Size"/>).</summary>
    public long HeldBytes;
    /// <summary>Bytes of queued messages, heads and tails (<see cref="Message.Size"/>): what max_queued_bytes_total bounds. Read without
    /// the shard's lock by <see cref="SessionTable.QueuedBytesTotal"/>.</summary>
    public long QueuedBytes;
    /// <summary>The first of the sessions with at least one inflight message (the only ones that can be past their ack
    /// timeout), linked through <see cref="Session.NextWithInflight"/>: joining and leaving cost no hashing on the
    /// per-message path, where a QoS 1 flow to an idle subscriber enters and leaves at every message.</summary>
    public Session? FirstWithInflight { get; private set; }

    public void AddWithInflight(Session session)
    {
        Debug.Assert(session.PreviousWithInflight is null && session.NextWithInflight is null && FirstWithInflight != session, "already listed");
        session.PreviousWithInflight = null;
        session.NextWithInflight = FirstWithInflight;
        if (FirstWithInflight is not null) FirstWithInflight.PreviousWithInflight = session;
        FirstWithInflight = session;
    }

    public void RemoveWithInflight(Session session)
    {
        // Unlinking a session that is not listed would drop the whole list.
        Debug.Assert(session.PreviousWithInflight is not null || FirstWithInflight == session, "not listed");
        if (session.PreviousWithInflight is null) FirstWithInflight = session.NextWithInflight;
        else session.PreviousWithInflight.NextWithInflight = session.NextWithInflight;
        if (session.NextWithInflight is not null) session.NextWithInflight.PreviousWithInflight = session.PreviousWithInflight;
        session.PreviousWithInflight = session.NextWithInflight = null;
    }
}
