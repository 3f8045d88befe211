using System.Globalization;
using System.Text;
using Holdfast.Broker;

namespace Holdfast.Server.Logging;

/// <summary>
/// Writes log lines on one background thread, so that no caller (a connection, the broker under its global lock) ever
/// waits on stdout, a file or journald. A caller stamps its line and queues it; the thread writes each batch to every
/// sink and flushes once. The queue is bounded by lines and characters: when it is full new lines are dropped and
/// counted, and once the thread has caught up it writes one line saying how many.
/// </summary>
internal sealed class AsyncLogWriter : IDisposable
{
    private readonly LogSink[] _sinks;
    private readonly SyslogSink? _syslog;
    private readonly Func<string, string> _stamp;
    private readonly LogLimits _limits;
    private readonly Thread _thread;
    private readonly Lock _lock = new();
    // Set while the queue holds something or the writer is asked to stop; reset only under _lock by the thread.
    private readonly ManualResetEventSlim _wake = new(false);
    private List<Item> _queue = [];
    private int _queuedChars;
    private long _dropped;
    private long _queuedThrough;
    private bool _closing;
    // Monitor for WaitUntilWritten; _writtenThrough counts the items the thread has finished with.
    private readonly object _progress = new();
    private long _writtenThrough;

    /// <summary>A queued line, or (Line null) the point at which files are reopened, so that rotation splits the log
    /// exactly where SIGHUP came.</summary>
    private readonly record struct Item(string? Line, LogType Type);

    /// <param name="sinks">Owned from now on: closed at <see cref="Dispose"/>.</param>
    /// <param name="syslog">log_dest syslog, which takes line by line with each line's type; owned too.</param>
    /// <param name="stamp">Turns a message into a whole line (timestamp, newline). Called at enqueue, under the
    /// queue's lock, so lines are stamped in the order they are written.</param>
    public AsyncLogWriter(LogSink[] sinks, SyslogSink? syslog, Func<string, string> stamp, LogLimits limits)
    {
        _sinks = sinks;
        _syslog = syslog;
        _stamp = stamp;
        _limits = limits;
        _thread = new Thread(Run) { IsBackground = true, Name = "Holdfast log writer" };
        _thread.Start();
    }

    /// <summary>Stamps and queues a message; never blocks on I/O. Returns false if it was dropped (queue full or closed).</summary>
    public bool Enqueue(string message, LogType type)
    {
        lock (_lock)
        {
            if (_closing)
                return false;
            if (_queue.Count >= _limits.MaxQueuedLines)
            {
                _dropped++;
                return false;
            }
            var line = _stamp(message);
            // An empty queue takes any line, so one larger than the whole budget is still written.
            if (_queue.Count > 0 && _queuedChars + line.Length > _limits.MaxQueuedChars)
            {
                _dropped++;
                return false;
            }
            Add(new Item(line, type));
            _queuedChars += line.Length;
            return true;
        }
    }

    /// <summary>Asks the thread to reopen the files after the lines already queued. A file that cannot be reopened
    /// keeps its old handle, and the thread logs why.</summary>
    public void RequestReopen()
    {
        lock (_lock)
        {
            if (!_closing)
                Add(new Item(null, LogType.None));
        }
    }

    /// <summary>Waits until everything queued before the call has been written (or dropped), or the timeout passes.</summary>
    public bool WaitUntilWritten(TimeSpan timeout)
    {
        long target;
        lock (_lock)
            target = _queuedThrough;
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        lock (_progress)
        {
            while (_writtenThrough < target)
            {
                long remaining = deadline - Environment.TickCount64;
                if (remaining <= 0)
                    return false;
                Monitor.Wait(_progress, TimeSpan.FromMilliseconds(remaining));
            }
            return true;
        }
    }

    /// <summary>Stops taking lines, writes what is queued (waiting at most the drain timeout for a stuck destination)
    /// and closes the files.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_closing)
                return;
            _closing = true;
            _wake.Set();
        }
        // A destination still stuck after the timeout keeps its thread (a background one, so the process can exit);
        // its files are left open rather than closed under a write in progress.
        if (!_thread.Join(_limits.DrainTimeout))
            return;
        foreach (var sink in _sinks)
            sink.Dispose();
        _syslog?.Dispose();
        _wake.Dispose();
    }

    private void Add(Item item)
    {
        _queue.Add(item);
        _queuedThrough++;
        if (_queue.Count == 1)
            _wake.Set();
    }

    private void Run()
    {
        var spare = new List<Item>();
        var text = new StringBuilder();
        while (true)
        {
            _wake.Wait();
            List<Item> batch;
            long dropped, through;
            bool closing;
            lock (_lock)
            {
                batch = _queue;
                _queue = spare;
                _queuedChars = 0;
                dropped = _dropped;
                _dropped = 0;
                through = _queuedThrough;
                closing = _closing;
                _wake.Reset();
            }

            Write(batch, dropped, text);
            batch.Clear();
            spare = batch;
            lock (_progress)
            {
                _writtenThrough = through;
                Monitor.PulseAll(_progress);
            }
            // Enqueue refuses lines once closing is set, so this batch held the last of them.
            if (closing)
                return;
        }
    }

    private void Write(List<Item> batch, long dropped, StringBuilder text)
    {
        foreach (var item in batch)
        {
            if (item.Line is { } line)
            {
                text.Append(line);
                _syslog?.Send(item.Type, line);
                continue;
            }
            WriteOut(text);
            foreach (var sink in _sinks)
            {
                try
                {
                    sink.Reopen();
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    Append(text, LogType.Error, _stamp($"Error: cannot reopen log file: {e.Message}"));
                }
            }
        }
        // Written after the batch: lines are dropped only once the queue is full, so after everything queued before them.
        if (dropped > 0)
            Append(text, LogType.Warning, _stamp(string.Create(CultureInfo.InvariantCulture,
                $"Log: {dropped} line(s) dropped, the log destination could not keep up.")));
        WriteOut(text);
    }

    private void Append(StringBuilder text, LogType type, string line)
    {
        text.Append(line);
        _syslog?.Send(type, line);
    }

    private void WriteOut(StringBuilder text)
    {
        if (text.Length == 0)
            return;
        var lines = text.ToString();
        text.Clear();
        foreach (var sink in _sinks)
            sink.Write(lines);
    }
}
