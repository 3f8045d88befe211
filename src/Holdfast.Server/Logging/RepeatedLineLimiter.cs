using System.Globalization;
using Holdfast.Broker;

namespace Holdfast.Server.Logging;

/// <summary>
/// Keeps one kind of line (see <see cref="LogLineKind"/>) from flooding the log: a client hammering the broker with
/// refused connects or publishes. Past <see cref="LogLimits.RepeatBurst"/> lines of a kind within
/// <see cref="LogLimits.RepeatWindow"/> of the first, the rest are suppressed and counted, and when the window ends one
/// line says how many, with the first of them as the example. Checked before a line is queued, so a flood costs no
/// queue room; the work is a normalisation and a dictionary look-up, no I/O.
/// </summary>
internal sealed class RepeatedLineLimiter : IDisposable
{
    private readonly LogLimits _limits;
    private readonly TimeProvider _time;
    private readonly Action<string> _report;
    private readonly ITimer _sweep;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Window> _windows = new(StringComparer.Ordinal);
    private bool _disposed;

    private sealed class Window(long start)
    {
        public long Start = start;
        public int Written;
        public int Suppressed;
        public string? Example;
    }

    /// <param name="report">Writes a "Suppressed …" line, bypassing the limiter. Called under the limiter's lock, so
    /// it must not block (it only queues).</param>
    public RepeatedLineLimiter(LogLimits limits, TimeProvider time, Action<string> report)
    {
        _limits = limits;
        _time = time;
        _report = report;
        // A tenth of the window: a summary comes at most that late, and a quiet kind is forgotten soon after its window.
        var period = TimeSpan.FromTicks(Math.Max(limits.RepeatWindow.Ticks / 10, TimeSpan.TicksPerMillisecond));
        _sweep = time.CreateTimer(_ => Sweep(), null, period, period);
    }

    /// <summary>True if the line is to be written; false if it is suppressed (and counted).</summary>
    public bool Admit(LogType type, string message)
    {
        if (LogLineKind.Of(message) is not { } normalised)
            return true;
        var kind = string.Concat(((int)type).ToString(CultureInfo.InvariantCulture), ":", normalised);
        lock (_lock)
        {
            if (_disposed)
                return true;
            long now = _time.GetTimestamp();
            if (_windows.TryGetValue(kind, out var window))
            {
                if (Ended(window, now))
                {
                    // The sweep has not come round yet: report first, so the summary precedes this line.
                    Report(window);
                    window.Start = now;
                    window.Written = 0;
                }
            }
            else
            {
                // Past the cap a new kind goes unlimited: losing lines silently would be worse than a longer log.
                if (_windows.Count >= _limits.MaxTrackedKinds)
                    return true;
                window = new Window(now);
                _windows.Add(kind, window);
            }
            if (window.Written < _limits.RepeatBurst)
            {
                window.Written++;
                return true;
            }
            window.Suppressed++;
            window.Example ??= message;
            return false;
        }
    }

    /// <summary>Reports what is still suppressed (shutdown should not swallow a count) and stops the timer.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            foreach (var window in _windows.Values)
                Report(window);
            _windows.Clear();
        }
        _sweep.Dispose();
    }

    private void Sweep()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            long now = _time.GetTimestamp();
            foreach (var (kind, window) in _windows)
            {
                if (!Ended(window, now))
                    continue;
                Report(window);
                _windows.Remove(kind);
            }
        }
    }

    private bool Ended(Window window, long now) => _time.GetElapsedTime(window.Start, now) >= _limits.RepeatWindow;

    private void Report(Window window)
    {
        if (window.Suppressed == 0)
            return;
        _report(string.Create(CultureInfo.InvariantCulture,
            $"Suppressed {window.Suppressed} similar line(s) like: {window.Example}"));
        window.Suppressed = 0;
        window.Example = null;
    }
}
