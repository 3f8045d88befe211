namespace Holdfast.Server;

/// <summary>A listener's max_connections: a counter of open connections (-1 = unlimited).</summary>
internal sealed class ConnectionLimit(int limit)
{
    private int _open;

    public int Limit { get; } = limit;

    public bool TryEnter()
    {
        if (Interlocked.Increment(ref _open) <= Limit || Limit < 0) return true;
        Interlocked.Decrement(ref _open);
        return false;
    }

    public void Exit() => Interlocked.Decrement(ref _open);
}
