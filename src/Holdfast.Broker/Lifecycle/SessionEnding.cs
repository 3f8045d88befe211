using Holdfast.Broker.Routing;
using static Holdfast.Broker.SessionRecording;

namespace Holdfast.Broker;

/// <summary>
/// How a session ends, whatever ended it (expiry, a clean start, a takeover of an expired session, a full queue): its
/// subscriptions go, what it still held is counted as dropped under the cause given, its records leave the store in the
/// same operation, and a pending will is published after the operation. A part of its own so that delivery, which ends
/// an offline session whose queue is full (queue_full_policy end_session), needs nothing else of the lifecycle.
/// </summary>
internal sealed class SessionEnding(BrokerContext context, SubscriptionTree subscriptions, RoomSignal room)
{
    /// <summary>Ends <paramref name="session"/> under its shard lock; <paramref name="why"/> goes into the log line.</summary>
    public void End(BrokerOperation op, Session session, string why, DropCause undeliveredCause = DropCause.SessionExpired)
    {
        if (session.SubscriptionCount > 0)
        {
            foreach (var sub in session.Subscriptions.Values) subscriptions.Remove(session, sub);
            session.Subscriptions.Clear();
        }
        long undelivered = session.InflightCount + session.QueuedCount;
        if (undelivered > 0)
        {
            context.Metrics.Drop(undeliveredCause, undelivered);
            session.CountDrop(undeliveredCause, undelivered);
            context.Log.Warning($"Session of {session.ClientId} ended ({why}) with {undelivered} undelivered message(s); they are dropped.");
        }
        bool hadQueue = session.QueuedCount > 0;
        // Everything the session holds leaves the store with it, in this operation's change set.
        Unrecord(op, session);
        session.ClearMessages();
        session.Shard.Remove(session);
        if (session.PendingWill is { } will)
        {
            // The store already forgot it with the session.
            session.PendingWill = null;
            op.PublishWillAfter(session, will.Will, null);
        }
        if (hadQueue) room.Signal();
    }
}
