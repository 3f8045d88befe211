using System.Buffers;
using System.Globalization;
using System.Text;
using Holdfast.Broker;
using Holdfast.Server.Configuration;

namespace Holdfast.Server.Logging;

/// <summary>
/// Writes the broker's log in Mosquitto 2's line format — <c>1764108000: New connection from 127.0.0.1:51234 on
/// port 1883.</c> — so operators' greps and log shippers keep working. Safe to call from every connection at once:
/// each line reaches each destination whole, and file lines are flushed as written so <c>tail -f</c> sees them.
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
    private readonly Sink[] _sinks;
    private readonly Lock _lock = new();
    private bool _disposed;

    /// <param name="types">log_type: which lines are written.</param>
    /// <param name="destinations">log_dest: where they go. Files are opened (appending) now, so a bad path fails at startup.</param>
    /// <param name="timestamp">log_timestamp: prefix each line with the time.</param>
    /// <param name="timestampFormat">log_timestamp_format; null = Unix seconds.</param>
    /// <param name="time">The clock; tests pass a fixed one.</param>
    public MosquittoLog(LogType types, IEnumerable<LogDestination> destinations, bool timestamp = true,
        string? timestampFormat = null, TimeProvider? time = null)
    {
        _types = types;
        _timestamp = timestamp;
        _timestampFormat = timestampFormat is null ? null : LogTimestampFormat.Parse(timestampFormat);
        _time = time ?? TimeProvider.System;

        var sinks = new List<Sink>();
        try
        {
            foreach (var destination in destinations.Distinct())
                sinks.Add(Sink.Open(destination));
        }
        catch
        {
            foreach (var sink in sinks)
                sink.Dispose();
            throw;
        }
        _sinks = sinks.ToArray();
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

        var line = FormatLine(message);
        lock (_lock)
        {
            if (_disposed)
                return;
            foreach (var sink in _sinks)
                sink.WriteLine(line);
        }
    }

    /// <summary>Closes and reopens log files, for log rotation (Mosquitto does this on SIGHUP).
    /// Throws <see cref="IOException"/> if a file cannot be reopened; that file keeps its old handle.</summary>
    public void ReopenFiles()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            for (int i = 0; i < _sinks.Length; i++)
                _sinks[i].Reopen();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            foreach (var sink in _sinks)
                sink.Dispose();
        }
    }

    private string FormatLine(string message)
    {
        message = EscapeControlChars(message);
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

    /// <summary>One open destination. Only files are owned (opened, flushed, closed) by the log.</summary>
    private sealed class Sink : IDisposable
    {
        private readonly LogDestination _destination;
        private TextWriter _writer;

        private Sink(LogDestination destination, TextWriter writer)
        {
            _destination = destination;
            _writer = writer;
        }

        public static Sink Open(LogDestination destination) => destination.Kind switch
        {
            LogDestinationKind.Stdout => new Sink(destination, Console.Out),
            LogDestinationKind.Stderr => new Sink(destination, Console.Error),
            LogDestinationKind.File => new Sink(destination, OpenFile(destination.Path!)),
            _ => new Sink(destination, destination.Writer!),
        };

        private bool OwnsWriter => _destination.Kind == LogDestinationKind.File;

        public void WriteLine(string line)
        {
            try
            {
                _writer.Write(line);
                if (OwnsWriter)
                    _writer.Flush();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                // A full disk or a closed pipe must not take the broker down with it; the line is lost, the
                // messages the broker holds are not.
            }
        }

        public void Reopen()
        {
            if (!OwnsWriter)
                return;
            // Open the new file before closing the old one, so a failed reopen leaves logging where it was.
            var reopened = OpenFile(_destination.Path!);
            _writer.Dispose();
            _writer = reopened;
        }

        public void Dispose()
        {
            if (OwnsWriter)
                _writer.Dispose();
        }

        private static StreamWriter OpenFile(string path)
        {
            try
            {
                // Shared read/write/delete so operators can tail the file and logrotate can move it.
                var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
                return new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new IOException($"cannot open log file '{path}': {e.Message}", e);
            }
        }
    }
}
