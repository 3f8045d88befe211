using System.Net.Sockets;
using System.Text;
using Holdfast.Broker;

namespace Holdfast.Server;

/// <summary>
/// systemd's readiness protocol (sd_notify), for a unit with <c>Type=notify</c>: "READY=1" once every listener is open, so
/// units ordered after the broker start only when it accepts connections, and "STOPPING=1" when shutdown begins.
/// systemd names the datagram socket in NOTIFY_SOCKET ('@' starts an abstract name); without it this does nothing.
/// </summary>
internal static class SystemdNotify
{
    public static void Send(string state, IBrokerLog log)
    {
        string? path = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(path)) return;
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.SendTo(Encoding.UTF8.GetBytes(state), new UnixDomainSocketEndPoint(path[0] == '@' ? "\0" + path[1..] : path));
        }
        catch (SocketException e)
        {
            // Readiness is a courtesy to the service manager: the broker serves either way.
            log.Warning($"could not notify systemd ({path}): {e.Message}");
        }
    }
}
