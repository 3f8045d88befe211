namespace Holdfast.Broker;

/// <summary>
/// When a session's timer work is next due: for a connected client the ack timeout of its oldest unacknowledged message
/// and the opt-in 3.1.1 retry; for an offline session its delayed will, its expiry and the expiry of the message at the
/// head of its queue. Each session is in its shard's <see cref="DeadlineQueue"/> for the earliest, so a tick costs what
/// is due, not what exists.
/// </summary>
internal sealed class SessionTimers(BrokerContext context)
{
    /// <summary>Puts the session in its shard's deadline queue for its next timer work, if that is earlier than it is
    /// queued for. Called (under the shard's lock) wherever a due time can move earlier: a connection ends or starts, a
    /// flow starts or moves on, a will is set, a message is queued for an offline session. A few comparisons.</summary>
    public void Schedule(Session session)
    {
        long due = NextDue(session);
        if (due != long.MaxValue) session.Shard.Deadlines.Schedule(session, due);
    }

    private long NextDue(Session session)
    {
        long due = long.MaxValue;
        if (session.Client is { } client)
        {
            // A head emptied before the store had written the tail it should be refilled from: look again soon.
            if (session.HeadCount == 0 && session.TailCount > 0) return context.Now + 1;
            if (session.OldestInflight is not { } oldest) return due;
            if (client.Policy.AckTimeout is { } timeout && oldest.Sent && !oldest.AckTimeoutReported)
                due = oldest.SentAt + (long)timeout.TotalMilliseconds;
            if (context.Options.RetryIntervalV311 is { } retry && !client.IsV5)
                foreach (var m in session.Inflight)
                    if (m.Sent) due = Math.Min(due, Math.Max(m.SentAt, m.RetriedAt) + (long)retry.TotalMilliseconds);
            return due;
        }
        if (session.PendingWill is { } will) due = will.PublishAt;
        due = Math.Min(due, ExpiresAt(session));
        if (session.HeadCount > 0 && session.PeekQueued().Message.ExpiresAt is { } messageExpires) due = Math.Min(due, messageExpires);
        return due;
    }

    public bool IsExpired(Session session, long now) => session.Client is null && now >= ExpiresAt(session);

    /// <summary>When an offline session expires (monotonic ms); long.MaxValue = never.</summary>
    private long ExpiresAt(Session session)
    {
        if (session.ExpiryInterval != uint.MaxValue) return session.DisconnectedAt + session.ExpiryInterval * 1000L;
        // Sessions that never expire by protocol are removed only by the operator's persistent_client_expiration.
        return context.Options.PersistentClientExpiration is { } limit ? session.DisconnectedAt + (long)limit.TotalMilliseconds : long.MaxValue;
    }
}
