namespace Holdfast.Broker;

/// <summary>What every part of the engine reads: the settings, the clock, the log and the counters. Nothing here changes
/// after the broker is made (the counters are thread-safe), so parts share it without a lock.</summary>
internal sealed class BrokerContext(BrokerOptions options, BrokerClock clock, IBrokerLog log, BrokerMetrics metrics, Storage.IBrokerStore store)
{
    /// <summary>The store, for what is read back while running: the tails of long queues.</summary>
    public Storage.IBrokerStore Store { get; } = store;
    public BrokerOptions Options { get; } = options;
    public BrokerClock Clock { get; } = clock;
    public IBrokerLog Log { get; } = log;
    public BrokerMetrics Metrics { get; } = metrics;

    public long Now => Clock.Now;

    /// <summary>Set once at shutdown: no new connections, no wills, sessions kept.</summary>
    public bool ShuttingDown { get => Volatile.Read(ref _shuttingDown); set => Volatile.Write(ref _shuttingDown, value); }
    private bool _shuttingDown;
}
