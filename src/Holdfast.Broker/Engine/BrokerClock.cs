namespace Holdfast.Broker;

/// <summary>The engine's clock: monotonic milliseconds read from an injected <see cref="TimeProvider"/>, so that every
/// timer decision (will delay, session expiry, message expiry, ack timeout, the 3.1.1 retry) can run on a fake clock in
/// tests. Monotonic, not wall-clock: setting the system time must not expire sessions or fire wills.</summary>
public sealed class BrokerClock
{
    private readonly long _ticksPerMillisecond;
    private readonly bool _system;

    public BrokerClock(TimeProvider time)
    {
        Time = time;
        // Stopwatch (1 GHz on Linux) and FakeTimeProvider (10 MHz) both count whole ticks per millisecond.
        _ticksPerMillisecond = Math.Max(1, time.TimestampFrequency / 1000);
        _system = ReferenceEquals(time, TimeProvider.System);
    }

    public static BrokerClock System { get; } = new(TimeProvider.System);

    public TimeProvider Time { get; }

    /// <summary>Monotonic milliseconds; only differences between two readings mean anything. On the system clock the
    /// coarse millisecond tick count: read for every message delivered, and a few nanoseconds against a Stopwatch read
    /// and a division.</summary>
    public long Now => _system ? Environment.TickCount64 : Time.GetTimestamp() / _ticksPerMillisecond;
}
