namespace Holdfast.Broker;

/// <summary>Wakes MQTT 3.1.1 publishers held back by a full queue (queue_full_policy block) when a queue has room
/// again, so they try again. A publisher starts waiting while it still holds the locks of the shards whose queues were
/// full, and room in those queues is made under the same locks: a signal is never missed. A signal from elsewhere wakes
/// it for nothing; it looks again and waits again.</summary>
internal sealed class RoomSignal
{
    private readonly Lock _lock = new();
    private TaskCompletionSource? _waiting;

    /// <summary>Completes at the next <see cref="Signal"/>. Call under the locks of the full queues' shards.</summary>
    public Task Wait()
    {
        lock (_lock) return (_waiting ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
    }

    public void Signal()
    {
        // Nobody held back, nearly always: not worth the lock.
        if (Volatile.Read(ref _waiting) is null) return;
        TaskCompletionSource? waiting;
        lock (_lock)
        {
            waiting = _waiting;
            _waiting = null;
        }
        // Continuations run elsewhere (RunContinuationsAsynchronously): never under the caller's shard locks.
        waiting?.TrySetResult();
    }
}
