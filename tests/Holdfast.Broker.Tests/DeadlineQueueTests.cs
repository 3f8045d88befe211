namespace Holdfast.Broker.Tests;

public class DeadlineQueueTests
{
    [Fact]
    public void Sessions_come_out_when_due_earliest_first_and_not_before()
    {
        var queue = new DeadlineQueue();
        var late = new Session("late");
        var early = new Session("early");
        queue.Schedule(late, 300);
        queue.Schedule(early, 100);

        Assert.False(queue.TryTakeDue(99, out _));
        Assert.True(queue.TryTakeDue(300, out var first));
        Assert.True(queue.TryTakeDue(300, out var second));
        Assert.False(queue.TryTakeDue(300, out _));
        Assert.Equal([early, late], [first, second]);
        // Taken means unscheduled: the caller schedules it again for what is due next.
        Assert.Equal(long.MaxValue, first.ScheduledDue);
    }

    [Fact]
    public void An_earlier_due_supersedes_a_later_one_and_the_later_entry_is_skipped()
    {
        var queue = new DeadlineQueue();
        var session = new Session("s");
        queue.Schedule(session, 500);
        queue.Schedule(session, 200);
        // A later due than the one queued changes nothing: the earlier entry comes up first and the caller looks again then.
        queue.Schedule(session, 900);

        Assert.True(queue.TryTakeDue(1000, out var taken));
        Assert.Same(session, taken);
        Assert.False(queue.TryTakeDue(1000, out _));
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void A_tick_with_nothing_due_looks_at_no_session()
    {
        using var broker = TestBroker.New();
        var policy = new ListenerPolicy { AckTimeout = TimeSpan.FromMinutes(5) };
        for (int i = 0; i < 1000; i++)
        {
            var c = broker.Connect($"c{i}", cleanStart: false, sessionExpiry: 3600, policy: policy);
            if (i % 2 == 0) c.Lost();
        }
        // 500 offline sessions due in an hour; none connected holds a flow.
        Assert.Equal(500, broker.Inspect((_, _) => broker.DeadlineCount));
        broker.TickFor(60_000);
        Assert.Equal(1000, broker.SessionCount);
        Assert.Equal(500, broker.Inspect((_, _) => broker.DeadlineCount));
        broker.TickFor(3_540_000);
        Assert.Equal(500, broker.SessionCount);
        Assert.Equal(0, broker.Inspect((_, _) => broker.DeadlineCount));
    }
}
