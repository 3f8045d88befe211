namespace Holdfast.Storage.Tests.Support;

/// <summary>Generous limits for waiting on events: a test never sleeps a fixed time, it waits for what it needs and
/// fails (rather than hangs) when that never happens.</summary>
public static class Wait
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Awaits <paramref name="task"/>, failing the test after <see cref="Timeout"/>.</summary>
    public static Task Within(this ValueTask task) => task.AsTask().WaitAsync(Timeout);

    public static Task Within(this Task task) => task.WaitAsync(Timeout);
}
