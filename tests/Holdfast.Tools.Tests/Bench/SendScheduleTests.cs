using System.Diagnostics;
using Holdfast.Tools.Bench;

namespace Holdfast.Tools.Tests.Bench;

public class SendScheduleTests
{
    [Fact]
    public void Message_n_is_due_n_intervals_after_the_start_whenever_it_is_sent()
    {
        var schedule = new SendSchedule(StartTicks: 1_000, RatePerSecond: 4000);
        long interval = Stopwatch.Frequency / 4000;
        Assert.Equal(1_000, schedule.TicksOf(0));
        Assert.Equal(1_000 + 1200 * interval, schedule.TicksOf(1200));

        // 300 ms after the start, a publisher that was held back (sent 10) owes every message due since: the first at the
        // start, then one per interval. Their latency counts from TicksOf, so the 300 ms they waited is in it.
        long now = 1_000 + 300 * Stopwatch.Frequency / 1000;
        Assert.Equal(1201 - 10, schedule.DueAt(now, sent: 10));
        Assert.Equal(0, schedule.DueAt(now, sent: 1201));
        Assert.Equal(0, schedule.DueAt(500, sent: 0));
        Assert.Equal(1, schedule.DueAt(1_000, sent: 0));
    }
}
