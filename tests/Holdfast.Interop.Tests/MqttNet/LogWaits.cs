using Holdfast.Interop.Tests.Infrastructure;

namespace Holdfast.Interop.Tests.MqttNet;

public static class LogWaits
{
    /// <summary>Waits until at least <paramref name="count"/> log lines contain <paramref name="fragment"/> (for lines
    /// that repeat over a test, such as a client's second disconnect).</summary>
    public static async Task WaitForCountAsync(this CapturingLog log, string fragment, int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Waits.Event);
        while (Count(log, fragment) < count)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{count} log lines containing '{fragment}' not seen (have {Count(log, fragment)}); last lines:\n{string.Join("\n", log.Lines.TakeLast(30))}");
            // Polls the captured lines: the log offers no per-fragment signal, and this only bounds how often we look.
            await Task.Delay(20);
        }
    }

    public static int Count(this CapturingLog log, string fragment) =>
        log.Lines.Count(l => l.Contains(fragment, StringComparison.Ordinal));
}
