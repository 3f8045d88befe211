using System.Net;

namespace Holdfast.Server.Connections;

/// <summary>A client's address as the log shows it, in Mosquitto's form: an IPv4 client of a dual-stack listener is
/// 127.0.0.1:52718, not [::ffff:127.0.0.1]:52718, so log parsers and fail2ban filters written for Mosquitto match.</summary>
internal static class PeerAddress
{
    public static string Of(EndPoint? remote) => remote switch
    {
        null => "unknown",
        IPEndPoint { Address.IsIPv4MappedToIPv6: true } ip => $"{ip.Address.MapToIPv4()}:{ip.Port}",
        _ => remote.ToString() ?? "unknown",
    };
}
