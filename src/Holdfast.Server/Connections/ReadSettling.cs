namespace Holdfast.Server.Connections;

/// <summary>
/// Lets a CONNECT that takes over a client id first wait until the old connection has handled what it had already
/// received. Each connection reads on its own, so a client that sends DISCONNECT and reconnects at once could otherwise
/// have its new CONNECT handled first: the takeover would then end the old connection as abnormal and publish the will
/// the DISCONNECT discarded. The waiter wakes the old read loop (CancelPendingRead); the loop handles whatever its
/// transport holds, then reports that it has settled.
/// </summary>
internal sealed class ReadSettling
{
    private readonly Lock _gate = new();
    private TaskCompletionSource? _waiting;
    private long _requests;
    private bool _ended;

    /// <summary>Completes once the read loop has handled what it was given when woken, or has ended.</summary>
    public Task RequestAsync(Action wakeReader)
    {
        Task settled;
        lock (_gate)
        {
            if (_ended) return Task.CompletedTask;
            _requests++;
            _waiting ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            settled = _waiting.Task;
        }
        wakeReader();
        return settled;
    }

    /// <summary>Taken by the read loop as soon as a read returns: every request counted so far was made before the read
    /// returned, so what that read gave holds everything those requests are waiting for.</summary>
    public long Seen() => Volatile.Read(ref _requests);

    /// <summary>The read loop handled what the read after <see cref="Seen"/> gave: the requests up to then are answered.
    /// A request made since is not (bytes may have come after that read); its wake-up makes the next read return at once.</summary>
    public void Settled(long seen)
    {
        // The common case, after every read: nobody waits, and no lock is taken.
        if (Volatile.Read(ref _waiting) is null) return;
        TaskCompletionSource? waiting;
        lock (_gate)
        {
            if (_requests > seen) return;
            (waiting, _waiting) = (_waiting, null);
        }
        waiting?.TrySetResult();
    }

    /// <summary>The read loop ended: nothing more will be handled, so nobody needs to wait.</summary>
    public void Ended()
    {
        TaskCompletionSource? waiting;
        lock (_gate)
        {
            _ended = true;
            (waiting, _waiting) = (_waiting, null);
        }
        waiting?.TrySetResult();
    }
}
