namespace Holdfast.Broker.Storage;

/// <summary>What a store gives back at startup. Times are already converted to this process's monotonic clock.</summary>
public sealed class StoredState
{
    public List<StoredSession> Sessions { get; } = [];
    /// <summary>Per session, the head of its queue in queue order.</summary>
    public Dictionary<string, List<StoredQueued>> Queues { get; } = [];
    /// <summary>Per session whose queue is longer than the head read, the rest.</summary>
    public Dictionary<string, StoredQueueTail> QueueTails { get; } = [];
    /// <summary>Per session, in the order the messages were first sent (the resend order).</summary>
    public Dictionary<string, List<StoredInflight>> Inflight { get; } = [];
    public Dictionary<string, HashSet<ushort>> InboundQoS2 { get; } = [];
    public List<Message> Retained { get; } = [];
    public Dictionary<string, PendingWill> PendingWills { get; } = [];
    /// <summary>The highest message id in the message log (0: none): new messages are numbered after it.</summary>
    public long LastMessageId { get; set; }
}
