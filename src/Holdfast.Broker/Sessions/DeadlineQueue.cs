namespace Holdfast.Broker;

/// <summary>Sessions by the time their timer work is next due, earliest first, so that a tick costs what is due and
/// not what exists. Entries are never updated in place: a session moved earlier gets a second entry, and
/// <see cref="Session.ScheduledDue"/> says which one counts; the others are skipped when they come up.</summary>
internal sealed class DeadlineQueue
{
    private readonly PriorityQueue<Session, long> _entries = new();

    public int Count => _entries.Count;

    /// <summary>Makes sure <paramref name="session"/> is looked at by <paramref name="due"/> (monotonic ms).</summary>
    public void Schedule(Session session, long due)
    {
        if (due >= session.ScheduledDue) return;
        session.ScheduledDue = due;
        _entries.Enqueue(session, due);
    }

    /// <summary>Takes the next session whose time has come; its schedule is cleared, so the caller schedules it again
    /// for whatever is due next.</summary>
    public bool TryTakeDue(long now, out Session session)
    {
        while (_entries.TryPeek(out session!, out long due) && due <= now)
        {
            _entries.Dequeue();
            // An entry superseded by an earlier one that was already taken.
            if (due != session.ScheduledDue) continue;
            session.ScheduledDue = long.MaxValue;
            return true;
        }
        session = null!;
        return false;
    }
}
