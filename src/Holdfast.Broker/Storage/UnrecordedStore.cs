namespace Holdfast.Broker.Storage;

/// <summary>Records nothing: for a broker embedded without a store (and unit tests of the engine alone).</summary>
internal sealed class UnrecordedStore : IBrokerStore
{
    public static readonly UnrecordedStore Instance = new();
    public IChangeSet BeginChanges() => NoChanges.Instance;
    public bool IsDurable(long sequence) => true;
    public ValueTask WhenDurable(long sequence) => ValueTask.CompletedTask;
    public StoredState Load(int queueHead) => new();
    public bool ReadsQueues => false;
    public long CommittedSequence => 0;
    public IReadOnlyList<StoredQueued> ReadQueued(string clientId, long fromSequence, int maxCount) => [];

    /// <summary>Keeps nothing, so one instance serves every operation.</summary>
    private sealed class NoChanges : IChangeSet
    {
        public static readonly NoChanges Instance = new();
        public void Reference(Message message) { }
        public void Release(long messageId) { }
        public void SaveSession(StoredSession session, long expectedEpoch) { }
        public void RemoveSession(string clientId, long expectedEpoch) { }
        public void AddQueued(string clientId, long sequence, StoredDelivery delivery, bool ownsBody) { }
        public void RemoveQueued(string clientId, long sequence) { }
        public void RemoveQueuedFrom(string clientId, long fromSequence) { }
        public void SaveInflight(string clientId, StoredInflight inflight) { }
        public void RemoveInflight(string clientId, ushort packetId) { }
        public void SetInboundQoS2(string clientId, ushort packetId, bool awaitingPubRel) { }
        public void SetPendingWill(string clientId, PendingWill? will) { }
        public void SetRetained(Message message) { }
        public void ClearRetained(string topic) { }
        public long Commit() => 0;
    }
}
