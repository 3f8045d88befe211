using Holdfast.Broker;

namespace Holdfast.Server.Connections;

/// <summary>A connection whose reads must not wait longer than a deadline: CONNECT in time, then keep-alive.</summary>
internal interface IReadDeadline
{
    /// <summary>Monotonic ms (<see cref="BrokerClock.Now"/>) by which the next bytes must arrive; long.MaxValue = no limit.</summary>
    long ReadDeadline { get; }

    /// <summary><paramref name="deadline"/> (the <see cref="ReadDeadline"/> seen) passed: end the pending read, unless the
    /// connection has set a new deadline meanwhile. Never called under a lock.</summary>
    void ReadDeadlinePassed(long deadline);
}

/// <summary>
/// One timer for the read deadlines of all connections, checked every <see cref="Resolution"/>, instead of a timer and a
/// cancellation source per connection: those cost about 300 bytes per idle connection, and re-arming a timer on every
/// read takes the runtime's timer lock, which every connection shares. A deadline is noticed at most one
/// <see cref="Resolution"/> late (Mosquitto checks keep-alive about once a second).
/// </summary>
internal sealed class ReadDeadlines(BrokerClock clock) : IDisposable
{
    public static readonly TimeSpan Resolution = TimeSpan.FromMilliseconds(100);

    private readonly HashSet<IReadDeadline> _connections = new(ReferenceEqualityComparer.Instance);
    private readonly List<(IReadDeadline Connection, long Deadline)> _passed = [];
    private ITimer? _timer;
    private int _sweeping;

    public void Add(IReadDeadline connection)
    {
        lock (_connections)
        {
            _connections.Add(connection);
            // Started by the first connection, so that a server that never starts has no timer running.
            _timer ??= clock.Time.CreateTimer(static self => ((ReadDeadlines)self!).Sweep(), this, Resolution, Resolution);
        }
    }

    public void Remove(IReadDeadline connection)
    {
        lock (_connections) _connections.Remove(connection);
    }

    private void Sweep()
    {
        // A sweep that overran the period (a very large number of connections on a busy machine) is not run twice at once.
        if (Interlocked.Exchange(ref _sweeping, 1) == 1) return;
        try
        {
            long now = clock.Now;
            lock (_connections)
            {
                foreach (var connection in _connections)
                    if (connection.ReadDeadline is var deadline && deadline <= now) _passed.Add((connection, deadline));
            }
            // Outside the lock: ending a read may run the connection's close path, which removes it from the set.
            foreach (var (connection, deadline) in _passed)
            {
                // A connection closing at this moment may have its transport gone already; it ends anyway. Nothing one
                // connection throws may stop the sweep for the others, or end the process from a timer thread.
                try { connection.ReadDeadlinePassed(deadline); }
                catch (Exception) { }
            }
            _passed.Clear();
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }

    public void Dispose()
    {
        lock (_connections) _timer?.Dispose();
    }
}
