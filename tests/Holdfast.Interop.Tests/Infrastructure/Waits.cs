namespace Holdfast.Interop.Tests.Infrastructure;

/// <summary>How long tests wait for something that must happen, and how long they watch for something that must not.</summary>
public static class Waits
{
    /// <summary>Generous: an event that must happen (machines under load are slow, the test only waits this long when it fails).</summary>
    public static readonly TimeSpan Event = TimeSpan.FromSeconds(15);

    /// <summary>Bounded watch for "nothing arrives", always after a positive control proved the pipe works.</summary>
    public static readonly TimeSpan Quiet = TimeSpan.FromSeconds(1);

    /// <summary>Polls <paramref name="condition"/> until it holds (for conditions spanning several peers).</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Event);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out waiting for {what}");
            await Task.Delay(20);
        }
    }

    public static async Task<T> Within<T>(this Task<T> task, TimeSpan? timeout = null, string? what = null)
    {
        try { return await task.WaitAsync(timeout ?? Event); }
        catch (TimeoutException) { throw new TimeoutException($"timed out waiting for {what ?? "the event"}"); }
    }

    public static async Task Within(this Task task, TimeSpan? timeout = null, string? what = null)
    {
        try { await task.WaitAsync(timeout ?? Event); }
        catch (TimeoutException) { throw new TimeoutException($"timed out waiting for {what ?? "the event"}"); }
    }
}
