namespace Holdfast.Broker.Storage;

/// <summary>Records nothing: for a broker embedded without a store (and unit tests of the engine alone).</summary>
internal sealed class UnrecordedStore : IBrokerStore
{
    public static readonly UnrecordedStore Instance = new();
    public void SaveSession(StoredSession session) { }
    public void RemoveSession(string clientId) { }
    public void AddQueued(string clientId, StoredDelivery delivery) { }
    public void RemoveOldestQueued(string clientId) { }
    public void SaveInflight(string clientId, StoredInflight inflight) { }
    public void RemoveInflight(string clientId, ushort packetId) { }
    public void SetInboundQoS2(string clientId, ushort packetId, bool awaitingPubRel) { }
    public void SetRetained(Message message) { }
    public ValueTask CommitAsync() => ValueTask.CompletedTask;
    public StoredState Load() => new();
}
