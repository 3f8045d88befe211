using Holdfast.Broker;
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
    /// <summary>Who the TLS handshake verified the client to be (the broker decides what that means for its user name).</summary>
    public TransportIdentity Identity { get; init; } = TransportIdentity.None;
}
