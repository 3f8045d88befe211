using System.IO.Pipelines;

namespace Holdfast.Server.Connections;

/// <summary>What an MQTT connection runs on: the byte stream both ways and how to drop it. TCP and TLS connections
/// (Kestrel's ConnectionContext) and WebSocket connections (<see cref="WebSocketTransport"/>) all provide it, so they
/// share one <see cref="MqttConnection"/>.</summary>
/// <param name="RemoteAddress">"address:port", for log lines.</param>
/// <param name="LocalPort">The listener's port, for the "New connection from ... on port N." line.</param>
/// <param name="Abort">Drops the connection at once (a peer that stopped reading).</param>
internal sealed record ClientTransport(IDuplexPipe Pipe, string RemoteAddress, int LocalPort, Action Abort)
{
    /// <summary>use_identity_as_username: the client's user name is <see cref="CertificateCommonName"/>, whatever CONNECT says.</summary>
    public bool UseIdentityAsUsername { get; init; }

    /// <summary>The CN of the client certificate the TLS handshake verified; null without one.</summary>
    public string? CertificateCommonName { get; init; }
}
