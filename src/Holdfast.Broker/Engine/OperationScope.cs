using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>
/// One broker operation over a set of session shards: their locks are entered in ascending order, the operation begins;
/// at the end its changes are committed and its packets handed on, the locks are released, and then the wills the
/// operation decided on are published, each as an operation of its own (routing one may need shards it did not hold).
/// A ref struct used with <c>using</c>: nothing is allocated per operation.
/// </summary>
internal ref struct OperationScope
{
    private readonly SessionTable _table;
    private readonly ShardSet _shards;
    private readonly SessionLifecycle _lifecycle;

    public OperationScope(SessionTable table, ShardSet shards, SessionLifecycle lifecycle)
    {
        _table = table;
        _shards = shards;
        _lifecycle = lifecycle;
        shards.Enter(table);
        Operation = table.Shard(shards.Lowest).BeginOperation();
    }

    public BrokerOperation Operation { get; }

    public readonly void Dispose()
    {
        List<(Session Session, WillMessage Will, PendingWill? Pending)>? wills;
        try
        {
            try { Operation.Dispose(); }
            finally { wills = Operation.TakeWills(); }
        }
        finally
        {
            _shards.Exit(_table);
        }
        if (wills is not null) _lifecycle.PublishWills(wills);
    }
}
