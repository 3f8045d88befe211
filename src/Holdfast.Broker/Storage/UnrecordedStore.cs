namespace Holdfast.Broker.Storage;

/// <summary>Records nothing: for a broker embedded without a store (and unit tests of the engine alone).</summary>
internal sealed class UnrecordedStore : IBrokerStore
{
    public static readonly UnrecordedStore Instance = new();
    public void ShareLock(Lock brokerLock) { }
    public void SaveSession(StoredSession session) { }
    public void RemoveSession(string clientId) { }
    public void AddQueued(string clientId, StoredDelivery delivery) { }
    public void RemoveOldestQueued(string clientId) { }
    public void SaveInflight(string clientId, StoredInflight inflight) { }
    public void RemoveInflight(string clientId, ushort packetId) { }
    public void SetInboundQoS2(string clientId, ushort packetId, bool awaitingPubRel) { }
    public void SetRetained(Message message) { }
    public void SetPendingWill(string clientId, PendingWill? will) { }
    public long RecordedSequence => 0;
    public bool IsDurable(long sequence) => true;
    public ValueTask WhenDurable(long sequence) => ValueTask.CompletedTask;
    public StoredState Load() => new();
}
