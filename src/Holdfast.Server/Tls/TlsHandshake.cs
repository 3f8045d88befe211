using Holdfast.Broker;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Holdfast.Server.Tls;

/// <summary>
/// One connection's TLS handshake, so that a failed one is logged as Mosquitto does ("Client connection from X failed:
/// ..."), never silently. The reason is either ours (a client certificate <see cref="ListenerTls"/> refused) or what
/// Kestrel's TLS middleware reports through its logger (<see cref="KestrelTlsLog"/>; it tells nobody else).
/// </summary>
internal sealed class TlsHandshake
{
    // Kestrel's TLS middleware logs in the async flow of the connection it serves: this ties its log lines to the handshake.
    private static readonly AsyncLocal<TlsHandshake?> InFlow = new();

    /// <summary>How long a client may take to complete the handshake (the same as for sending CONNECT).</summary>
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    public static TlsHandshake? Current => InFlow.Value;

    /// <summary>Why the handshake failed; null while it has not.</summary>
    public string? Failure { get; set; }

    /// <summary>The handshake completed: what Kestrel logs afterwards is not about it.</summary>
    public bool Established { get; set; }

    /// <summary>Makes a Kestrel listener serve TLS as <paramref name="tls"/> says, logging each failed handshake.</summary>
    public static void Use(ListenOptions listen, ListenerTls tls, IBrokerLog log)
    {
        listen.Use(next => async connection =>
        {
            var handshake = new TlsHandshake();
            connection.Items[typeof(TlsHandshake)] = handshake;
            InFlow.Value = handshake;
            await next(connection);
            if (handshake.Failure is { } why && log.IsEnabled(LogType.Notice))
                log.Notice($"Client connection from {Connections.PeerAddress.Of(connection.RemoteEndPoint)} failed: {why}.");
        });
        listen.UseHttps(new TlsHandshakeCallbackOptions
        {
            OnConnection = context => ValueTask.FromResult(tls.OptionsFor((TlsHandshake)context.Connection.Items[typeof(TlsHandshake)]!)),
            HandshakeTimeout = HandshakeTimeout,
        });
    }
}
