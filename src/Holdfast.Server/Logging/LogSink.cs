using System.Text;

namespace Holdfast.Server.Logging;

/// <summary>
/// One open log destination, used only by the log's writer thread. Only files are owned (opened, flushed, closed)
/// by the log; stdout, stderr and caller-supplied writers belong to someone else.
/// </summary>
internal sealed class LogSink : IDisposable
{
    private readonly LogDestination _destination;
    private TextWriter _writer;

    private LogSink(LogDestination destination, TextWriter writer)
    {
        _destination = destination;
        _writer = writer;
    }

    /// <summary>Opens the destination; a file that cannot be opened throws <see cref="IOException"/> naming its path.</summary>
    public static LogSink Open(LogDestination destination) => destination.Kind switch
    {
        LogDestinationKind.Stdout => new LogSink(destination, Console.Out),
        LogDestinationKind.Stderr => new LogSink(destination, Console.Error),
        LogDestinationKind.File => new LogSink(destination, OpenFile(destination.Path!)),
        _ => new LogSink(destination, destination.Writer!),
    };

    public LogDestination Destination => _destination;

    private bool OwnsWriter => _destination.Kind == LogDestinationKind.File;

    /// <summary>Writes a batch of whole lines and flushes once, so a burst costs one write rather than one per line.</summary>
    public void Write(string lines)
    {
        try
        {
            _writer.Write(lines);
            _writer.Flush();
        }
        catch (Exception)
        {
            // Any failure (EPIPE, a full disk, a writer that throws) is survived: an exception here would end the
            // writer thread and so the process. The lines are lost, the messages the broker holds are not.
        }
    }

    /// <summary>Closes and reopens a file destination (log rotation). Throws <see cref="IOException"/> if it cannot be
    /// reopened; the file then keeps its old handle.</summary>
    public void Reopen()
    {
        if (!OwnsWriter)
            return;
        // Open the new file before closing the old one, so a failed reopen leaves logging where it was.
        var reopened = OpenFile(_destination.Path!);
        try
        {
            _writer.Dispose();
        }
        catch (IOException)
        {
            // Flushing the old file failed (it is on a full or vanished disk): the new one is still good.
        }
        _writer = reopened;
    }

    public void Dispose()
    {
        if (!OwnsWriter)
            return;
        try
        {
            _writer.Dispose();
        }
        catch (IOException)
        {
            // Shutdown goes on when the last flush fails.
        }
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
