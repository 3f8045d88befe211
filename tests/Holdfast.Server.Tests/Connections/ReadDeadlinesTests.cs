using Holdfast.Server.Connections;
using Xunit;

namespace Holdfast.Server.Tests.Connections;

public class ReadDeadlinesTests
{
    private sealed class Connection(long deadline) : IReadDeadline
    {
        public readonly TaskCompletionSource<long> Passed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public long ReadDeadline { get; set; } = deadline;
        public int Calls;

        public void ReadDeadlinePassed(long deadline)
        {
            Interlocked.Increment(ref Calls);
            ReadDeadline = long.MaxValue;
            Passed.TrySetResult(deadline);
        }
    }

    [Fact]
    public async Task A_passed_deadline_is_reported_once_with_the_deadline_seen_and_a_later_one_is_not_reported()
    {
        using var deadlines = new ReadDeadlines();
        long past = Environment.TickCount64 - 1;
        var late = new Connection(past);
        var onTime = new Connection(Environment.TickCount64 + 3_600_000);
        var unlimited = new Connection(long.MaxValue);
        deadlines.Add(onTime);
        deadlines.Add(unlimited);
        deadlines.Add(late);

        Assert.Equal(past, await late.Passed.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        // Several more sweeps: the reported connection set itself to no limit, the others never passed.
        await Task.Delay(ReadDeadlines.Resolution * 4);
        Assert.Equal(1, late.Calls);
        Assert.Equal(0, onTime.Calls);
        Assert.Equal(0, unlimited.Calls);
    }

    [Fact]
    public async Task A_removed_connection_is_not_reported()
    {
        using var deadlines = new ReadDeadlines();
        var removed = new Connection(Environment.TickCount64 + 300);
        var kept = new Connection(Environment.TickCount64 + 300);
        deadlines.Add(removed);
        deadlines.Add(kept);
        deadlines.Remove(removed);

        await kept.Passed.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, removed.Calls);
    }
}
