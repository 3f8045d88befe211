using System.Diagnostics;

namespace Holdfast.Tools.Bench;

/// <summary>
/// When a rate-limited publisher's messages are due: message n at <c>start + n / rate</c> (Stopwatch ticks). Their latency is
/// measured from this scheduled time, not from when they actually went out: a broker that stalls holds the window shut,
/// the messages due meanwhile go out late, and timing them from the late send would hide the stall (coordinated omission).
/// </summary>
internal readonly record struct SendSchedule(long StartTicks, double RatePerSecond)
{
    public long TicksOf(long sequence) => StartTicks + (long)(sequence * (Stopwatch.Frequency / RatePerSecond));

    /// <summary>How many messages are due at <paramref name="nowTicks"/> (the first at the start) beyond the
    /// <paramref name="sent"/> already sent.</summary>
    public long DueAt(long nowTicks, long sent) =>
        nowTicks < StartTicks ? 0 : (long)((nowTicks - StartTicks) * RatePerSecond / Stopwatch.Frequency) + 1 - sent;
}
