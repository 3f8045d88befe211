using Holdfast.Broker;
using Holdfast.Broker.Storage;

namespace Holdfast.Storage.RocksDb;

/// <summary>
/// A change set of <see cref="RocksDbStore"/>: records become key-value puts and deletes (<see cref="StoreKeys"/>) as they
/// are recorded; message references and releases wait for <see cref="Commit"/>, where the store counts them and adds the
/// body writes. Used by one thread at a time, and reused after each commit.
/// </summary>
internal sealed class RocksDbChanges(RocksDbStore store) : IChangeSet
{
    private readonly RecordWriter _writer = new();

    public List<StoreOp> Ops { get; } = [];
    public List<Message> Referenced { get; } = [];
    public List<long> Released { get; } = [];
    public RecordWriter Writer => _writer;

    public void Reference(Message message) => Referenced.Add(message);

    public void Release(long messageId) => Released.Add(messageId);

    // One broker writes this store: the epoch compare always holds, so it is not read back.
    public void SaveSession(StoredSession session, long expectedEpoch) =>
        Put(StoreKeys.ForName(StoreKeys.Session, session.ClientId), StoreRecords.Session(_writer, session, new StoreRecords.Clock(store.Clock)));

    public void RemoveSession(string clientId, long expectedEpoch) => Delete(StoreKeys.ForName(StoreKeys.Session, clientId));

    public void AddQueued(string clientId, long sequence, StoredDelivery delivery, bool ownsBody) =>
        Put(StoreKeys.ForQueued(clientId, sequence), StoreRecords.Queued(_writer, delivery, ownsBody, new StoreRecords.Clock(store.Clock)));

    public void RemoveQueued(string clientId, long sequence) => Delete(StoreKeys.ForQueued(clientId, sequence));

    public void RemoveQueuedFrom(string clientId, long fromSequence) =>
        Ops.Add(new StoreOp(StoreKeys.ForQueued(clientId, fromSequence), null, StoreKeys.ForQueued(clientId, long.MaxValue)));

    public void SaveInflight(string clientId, StoredInflight inflight) =>
        Put(StoreKeys.ForPacketId(StoreKeys.Inflight, clientId, inflight.PacketId), StoreRecords.Inflight(_writer, inflight));

    public void RemoveInflight(string clientId, ushort packetId) => Delete(StoreKeys.ForPacketId(StoreKeys.Inflight, clientId, packetId));

    public void SetInboundQoS2(string clientId, ushort packetId, bool awaitingPubRel)
    {
        var key = StoreKeys.ForPacketId(StoreKeys.InboundQoS2, clientId, packetId);
        if (awaitingPubRel) Put(key, []);
        else Delete(key);
    }

    public void SetPendingWill(string clientId, PendingWill? will)
    {
        var key = StoreKeys.ForName(StoreKeys.Will, clientId);
        if (will is null) Delete(key);
        else Put(key, StoreRecords.Will(_writer, will, new StoreRecords.Clock(store.Clock)));
    }

    public void SetRetained(Message message) =>
        Put(StoreKeys.ForName(StoreKeys.Retained, message.Topic), _writer.Int64(message.Id).ToArray());

    public void ClearRetained(string topic) => Delete(StoreKeys.ForName(StoreKeys.Retained, topic));

    private void Put(byte[] key, byte[] value) => Ops.Add(new StoreOp(key, value));

    private void Delete(byte[] key) => Ops.Add(new StoreOp(key, null));

    public long Commit()
    {
        if (Ops.Count == 0 && Referenced.Count == 0 && Released.Count == 0) return 0;
        try
        {
            return store.Commit(this);
        }
        finally
        {
            Ops.Clear();
            Referenced.Clear();
            Released.Clear();
        }
    }
}
