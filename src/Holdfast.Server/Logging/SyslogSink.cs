using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Holdfast.Broker;

namespace Holdfast.Server.Logging;

/// <summary>
/// Mosquitto's <c>log_dest syslog</c>: each line as one datagram to the local syslog socket (/dev/log), in the form
/// glibc's syslog(3) sends, <c>&lt;PRI&gt;Mmm dd hh:mm:ss holdfast[PID]: LINE</c>, with Mosquitto's priorities (error,
/// warning, notice, info; subscribe and unsubscribe as notice; debug and websockets as debug) and facility
/// (<c>log_facility</c> N is local N, default daemon). Used only by the log's writer thread. Without a syslog daemon the
/// lines are lost, as with syslog(3); the socket is tried again at the next line, so a daemon started later is found.
/// </summary>
internal sealed class SyslogSink : IDisposable
{
    /// <summary>LOG_DAEMON: Mosquitto's default facility.</summary>
    public const int Daemon = 3;

    private readonly string _socketPath;
    private readonly int _facility;
    private readonly string _tag = $"holdfast[{Environment.ProcessId}]: ";
    private Socket? _socket;

    /// <param name="facility">The facility number (3 daemon, 16..23 local0..local7).</param>
    public SyslogSink(string socketPath, int facility)
    {
        _socketPath = socketPath;
        _facility = facility;
    }

    /// <summary>Sends one stamped line (its newline is dropped). Never throws.</summary>
    public void Send(LogType type, string line)
    {
        var now = DateTime.Now;
        // RFC 3164's timestamp, as glibc writes it: the day padded to two characters ("Dec  7 14:25:18").
        var bytes = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"<{_facility * 8 + Severity(type)}>{now:MMM} {now.Day,2} {now:HH:mm:ss} {_tag}{line.AsSpan().TrimEnd("\r\n")}"));
        try
        {
            _socket ??= Connect();
            _socket.Send(bytes);
        }
        catch (SocketException)
        {
            // No daemon (yet), or it restarted: dropped, and the socket is opened again for the next line.
            _socket?.Dispose();
            _socket = null;
        }
    }

    private Socket Connect()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(_socketPath));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Mosquitto's mapping of its log types to syslog severities.</summary>
    private static int Severity(LogType type) => type switch
    {
        LogType.Error => 3,
        LogType.Warning => 4,
        LogType.Notice or LogType.Subscribe or LogType.Unsubscribe => 5,
        LogType.Information => 6,
        _ => 7,
    };

    public void Dispose() => _socket?.Dispose();
}
