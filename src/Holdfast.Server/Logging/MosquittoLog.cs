using System.Buffers;
using System.Globalization;
using System.Text;
using Holdfast.Broker;
using Holdfast.Server.Configuration;

namespace Holdfast.Server.Logging;

/// <summary>
/// Writes the broker's log in Mosquitto 2's line format — <c>1764108000: New connection from 127.0.0.1:51234 on
/// port 1883.</c> — so operators' greps and log shippers keep working. Safe to call from every connection at once,
/// and never waits on a destination: a call stamps the line and queues it, and one thread writes the queue to every
/// destination (see <see cref="AsyncLogWriter"/>), each line whole. Repeats of one kind of notice, warning or error
/// are limited (see <see cref="RepeatedLineLimiter"/>); docs/logging.md tells operators both.
/// </summary>
public sealed class MosquittoLog : IBrokerLog, IDisposable
{
    // Control characters in a message (a client id with a newline, say) would let a client forge log lines.
    private static readonly SearchValues<char> ControlChars =
        SearchValues.Create(Enumerable.Range(0, 32).Where(c => c != '\t').Select(c => (char)c).Append('\u007f').ToArray());

    private readonly LogType _types;
    private readonly bool _timestamp;
    private readonly LogTimestampFormat? _timestampFormat;
    private readonly TimeProvider _time;
    private readonly AsyncLogWriter _writer;
    private readonly RepeatedLineLimiter _repeats;

    /// <summary>The types whose repeats are limited: refusals and faults. Not the information lines (the startup
    /// banner), nor debug traces, subscribe lines and the like, which an operator turns on to see every one.</summary>
    private const LogType RepeatLimited = LogType.Error | LogType.Warning | LogType.Notice;

    /// <param name="types">log_type: which lines are written.</param>
    /// <param name="destinations">log_dest: where they go. Files are opened (appending) now, so a bad path fails at startup.</param>
    /// <param name="timestamp">log_timestamp: prefix each line with the time.</param>
    /// <param name="timestampFormat">log_timestamp_format; null = Unix seconds.</param>
    /// <param name="time">The clock; tests pass a fixed or fake one.</param>
    /// <param name="limits">Queue bounds and repeat limits; null = <see cref="LogLimits.Default"/>.</param>
    public MosquittoLog(LogType types, IEnumerable<LogDestination> destinations, bool timestamp = true,
        string? timestampFormat = null, TimeProvider? time = null, LogLimits? limits = null)
    {
        _types = types;
        _timestamp = timestamp;
        _timestampFormat = timestampFormat is null ? null : LogTimestampFormat.Parse(timestampFormat);
        _time = time ?? TimeProvider.System;
        limits ??= LogLimits.Default;

        var sinks = new List<LogSink>();
        SyslogSink? syslog = null;
        try
        {
            // Files first: whoever watches stdout (a supervisor, a test) and then reads the file finds the line there.
            foreach (var destination in destinations.Distinct().OrderBy(d => d.Kind != LogDestinationKind.File))
            {
                if (destination.Kind == LogDestinationKind.Syslog) syslog = new SyslogSink(destination.Path!, destination.Facility);
                else sinks.Add(LogSink.Open(destination));
            }
        }
        catch
        {
            foreach (var sink in sinks)
                sink.Dispose();
            throw;
        }
        _writer = new AsyncLogWriter(sinks.ToArray(), syslog, FormatLine, limits);
        _repeats = new RepeatedLineLimiter(limits, _time, line => _writer.Enqueue(line, LogType.Notice));
        // A log nobody disposed (startup failed after its first lines, say) still writes what it queued.
        AppDomain.CurrentDomain.ProcessExit += DisposeAtExit;
    }

    /// <summary>The log a config file asks for (log_type, log_dest, log_timestamp, log_timestamp_format).</summary>
    public static MosquittoLog FromConfig(HoldfastConfig config, TimeProvider? time = null) =>
        new(config.LogTypes, config.LogDestinations, config.LogTimestamp, config.LogTimestampFormat, time);

    public LogType EnabledTypes => _types;

    // Called before building a message on hot paths, so it must stay a flags check.
    public bool IsEnabled(LogType type) => (_types & type) != 0;

    public void Write(LogType type, string message)
    {
        if (!IsEnabled(type))
            return;
        message = EscapeControlChars(message);
        if ((type & RepeatLimited) != 0 && !_repeats.Admit(type, message))
            return;
        _writer.Enqueue(message, type);
    }

    /// <summary>Closes and reopens log files, for log rotation (Mosquitto does this on SIGHUP). Done by the writer
    /// thread after the lines already queued; a file that cannot be reopened keeps its old handle and the log says why.</summary>
    public void ReopenFiles() => _writer.RequestReopen();

    /// <summary>Waits until every line written before the call has reached the destinations (or was dropped), or
    /// the timeout passes; false then. For tests and for callers that must see the log before going on.</summary>
    public bool WaitUntilWritten(TimeSpan timeout) => _writer.WaitUntilWritten(timeout);

    /// <summary>Writes what is queued (within <see cref="LogLimits.DrainTimeout"/>) and closes the files; later
    /// lines are ignored.</summary>
    public void Dispose()
    {
        AppDomain.CurrentDomain.ProcessExit -= DisposeAtExit;
        // The limiter first: its last counts are queued before the writer drains.
        _repeats.Dispose();
        _writer.Dispose();
    }

    private void DisposeAtExit(object? sender, EventArgs e) => Dispose();

    private string FormatLine(string message)
    {
        if (!_timestamp)
            return message + Environment.NewLine;
        var stamp = _timestampFormat is null
            ? _time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)
            : _timestampFormat.Format(_time.GetLocalNow());
        return string.Concat(stamp, ": ", message, Environment.NewLine);
    }

    private static string EscapeControlChars(string message)
    {
        if (message.AsSpan().IndexOfAny(ControlChars) < 0)
            return message;
        var escaped = new StringBuilder(message.Length + 8);
        foreach (char c in message)
        {
            if (ControlChars.Contains(c))
                escaped.Append("\\x").Append(((int)c).ToString("X2", CultureInfo.InvariantCulture));
            else
                escaped.Append(c);
        }
        return escaped.ToString();
    }
}
