namespace Holdfast.Server.Logging;

/// <summary>
/// How much the log may hold while its destinations are slow, and how often it repeats a line of one kind. The
/// defaults are the ones docs/logging.md describes; tests pass small ones.
/// </summary>
public sealed record LogLimits
{
    /// <summary>Lines waiting for the writer thread; beyond this new lines are dropped and counted.</summary>
    public const int DefaultMaxQueuedLines = 10_000;

    /// <summary>Characters waiting for the writer thread (about 4 MB of memory), so a few huge lines cannot hoard memory.</summary>
    public const int DefaultMaxQueuedChars = 2 * 1024 * 1024;

    /// <summary>How long shutdown waits for queued lines to reach a slow destination.</summary>
    public static readonly TimeSpan DefaultDrainTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Lines of one kind written in a window before the rest are suppressed.</summary>
    public const int DefaultRepeatBurst = 10;

    /// <summary>The window a kind's burst is counted in; at its end one line reports what was suppressed.</summary>
    public static readonly TimeSpan DefaultRepeatWindow = TimeSpan.FromSeconds(10);

    /// <summary>Kinds tracked at once; a line of a new kind beyond this is written unlimited rather than hoard memory.</summary>
    public const int DefaultMaxTrackedKinds = 1_000;

    public static LogLimits Default { get; } = new();

    public int MaxQueuedLines { get; init; } = DefaultMaxQueuedLines;
    public int MaxQueuedChars { get; init; } = DefaultMaxQueuedChars;
    public TimeSpan DrainTimeout { get; init; } = DefaultDrainTimeout;
    public int RepeatBurst { get; init; } = DefaultRepeatBurst;
    public TimeSpan RepeatWindow { get; init; } = DefaultRepeatWindow;
    public int MaxTrackedKinds { get; init; } = DefaultMaxTrackedKinds;
}
