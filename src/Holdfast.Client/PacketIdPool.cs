namespace Holdfast.Client;

/// <summary>Packet identifiers 1..65535 a client has in use; an id is free again once its flow completes.
/// Not thread-safe: one flow owner per connection.</summary>
public sealed class PacketIdPool
{
    private readonly bool[] _inUse = new bool[65536];
    private ushort _last;

    public int InUse { get; private set; }

    public bool TryTake(out ushort id)
    {
        for (int tries = 0; tries < 65535 && InUse < 65535; tries++)
        {
            _last = (ushort)(_last == 65535 ? 1 : _last + 1);
            if (_inUse[_last]) continue;
            _inUse[_last] = true;
            InUse++;
            id = _last;
            return true;
        }
        id = 0;
        return false;
    }

    /// <summary>Marks an id as held (a flow resumed from an earlier connection).</summary>
    public void Hold(ushort id)
    {
        if (_inUse[id]) return;
        _inUse[id] = true;
        InUse++;
    }

    public void Release(ushort id)
    {
        if (!_inUse[id]) return;
        _inUse[id] = false;
        InUse--;
    }
}
