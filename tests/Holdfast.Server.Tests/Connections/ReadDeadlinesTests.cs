using Holdfast.Broker;
using Holdfast.Server.Connections;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Holdfast.Server.Tests.Connections;

public class ReadDeadlinesTests
{
    private sealed class Connection(long deadline) : IReadDeadline
    {
        public long ReadDeadline { get; set; } = deadline;
        public readonly List<long> Passed = [];

        public void ReadDeadlinePassed(long deadline)
        {
            Passed.Add(deadline);
            ReadDeadline = long.MaxValue;
        }
    }

    [Fact]
    public void A_passed_deadline_is_reported_once_with_the_deadline_seen_and_a_later_one_is_not_reported()
    {
        var time = new FakeTimeProvider();
        var clock = new BrokerClock(time);
        using var deadlines = new ReadDeadlines(clock);
        long due = clock.Now + 250;
        var late = new Connection(due);
        var onTime = new Connection(clock.Now + 3_600_000);
        var unlimited = new Connection(long.MaxValue);
        deadlines.Add(onTime);
        deadlines.Add(unlimited);
        deadlines.Add(late);

        time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.Empty(late.Passed);
        time.Advance(ReadDeadlines.Resolution);
        Assert.Equal([due], late.Passed);
        // Several more sweeps: the reported connection set itself to no limit, the others never passed.
        for (int i = 0; i < 4; i++) time.Advance(ReadDeadlines.Resolution);
        Assert.Single(late.Passed);
        Assert.Empty(onTime.Passed);
        Assert.Empty(unlimited.Passed);
    }

    [Fact]
    public void A_removed_connection_is_not_reported()
    {
        var time = new FakeTimeProvider();
        var clock = new BrokerClock(time);
        using var deadlines = new ReadDeadlines(clock);
        var removed = new Connection(clock.Now + 300);
        var kept = new Connection(clock.Now + 300);
        deadlines.Add(removed);
        deadlines.Add(kept);
        deadlines.Remove(removed);

        time.Advance(TimeSpan.FromMilliseconds(400));
        Assert.Single(kept.Passed);
        Assert.Empty(removed.Passed);
    }
}
