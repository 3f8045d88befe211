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
    private bool _ended;

    /// <summary>Whether a waiter asked, so that a cancelled read is a request to settle, not the end.</summary>
    public bool Requested { get { lock (_gate) return _waiting is not null; } }

    /// <summary>Completes once the read loop has handled what it was given when woken, or has ended.</summary>
    public Task RequestAsync(Action wakeReader)
    {
        Task settled;
        lock (_gate)
        {
            if (_ended) return Task.CompletedTask;
            _waiting ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            settled = _waiting.Task;
        }
        wakeReader();
        return settled;
    }

    /// <summary>The read loop handled everything it was given.</summary>
    public void Settled()
    {
        TaskCompletionSource? waiting;
        lock (_gate) (waiting, _waiting) = (_waiting, null);
        waiting?.TrySetResult();
    }

    /// <summary>The read loop ended: nothing more will be handled, so nobody needs to wait.</summary>
    public void Ended()
    {
        lock (_gate) _ended = true;
        Settled();
    }
}
