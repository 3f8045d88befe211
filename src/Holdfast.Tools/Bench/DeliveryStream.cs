namespace Holdfast.Tools.Bench;

/// <summary>
/// The messages of one publisher as one subscriber receives them. The subscriber's receive loop is the only writer;
/// the publisher reads <see cref="Highest"/> to keep its window, and the run reads the counts when it snapshots.
/// </summary>
internal sealed class DeliveryStream(BenchPublisher publisher)
{
    private readonly SequenceSet _received = new();
    private long _distinct;
    private long _highest = -1;

    public BenchPublisher Publisher { get; } = publisher;
    /// <summary>Messages received at least once.</summary>
    public long Distinct => Volatile.Read(ref _distinct);
    public long Duplicates { get; private set; }
    /// <summary>The highest sequence number received (-1: none). The publisher's window counts what it sent above it, so a
    /// message dropped on the way (allowed at QoS 0) does not hold the window shut.</summary>
    public long Highest => Volatile.Read(ref _highest);

    public void OnReceived(long sequence)
    {
        if (!_received.Add(sequence))
        {
            Duplicates++;
            return;
        }
        Interlocked.Increment(ref _distinct);
        if (sequence > _highest)
        {
            // A full fence before the publisher's waiting flag is read in OnDelivered, so a waiting publisher never misses this.
            Interlocked.Exchange(ref _highest, sequence);
            Publisher.OnDelivered(this, sequence);
        }
    }

    public bool Contains(long sequence) => _received.Contains(sequence);
}
