using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Holdfast.Tools.Bench;

/// <summary>
/// Wakes rate-limited publishers when their next message is due. Their latency counts from the scheduled send time, so
/// the generator's own lateness would count as the broker's: Task.Delay here wakes on a 4 ms clock (and Thread.Sleep in
/// whole milliseconds), so one thread sleeps with usleep, to within a few tens of microseconds, instead.
/// </summary>
internal sealed class Pacer : IDisposable
{
    // A publisher that starts waiting while this thread sleeps, at a time the thread did not foresee, is woken at most
    // this late (the sleeps themselves cost a few percent of a core).
    private static readonly long MaxSleepTicks = Stopwatch.Frequency / 1000;
    private readonly BenchPublisher[] _publishers;
    private readonly Thread _thread;
    private volatile bool _stopped;

    public Pacer(BenchPublisher[] publishers)
    {
        _publishers = publishers;
        _thread = new Thread(Run) { IsBackground = true, Name = "bench pacer" };
        _thread.Start();
    }

    public void Dispose()
    {
        _stopped = true;
        _thread.Join();
    }

    private void Run()
    {
        while (!_stopped)
        {
            long now = Stopwatch.GetTimestamp();
            long next = now + MaxSleepTicks;
            foreach (var publisher in _publishers) next = Math.Min(next, publisher.WakeIfDue(now));
            long micros = (next - now) * 1_000_000 / Stopwatch.Frequency;
            if (micros > 0) _ = usleep((uint)micros);
        }
    }

    [DllImport("libc", SetLastError = false)]
    private static extern int usleep(uint microseconds);
}
