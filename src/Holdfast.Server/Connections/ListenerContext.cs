using System.IO.Pipelines;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Holdfast.Broker;
using Holdfast.Server.Tls;

namespace Holdfast.Server.Connections;

/// <summary>One configured listener at run time: what each of its connections needs, whatever the transport.</summary>
internal sealed record ListenerContext(ListenerPolicy Policy, ConnectionLimit Connections, ListenerTls? Tls)
{
    public static ClientTransport Transport(IDuplexPipe pipe, EndPoint? remote, int localPort, Action abort, X509Certificate2? clientCertificate) =>
        new(pipe, PeerAddress.Of(remote), localPort, abort)
        {
            Identity = clientCertificate is null ? TransportIdentity.None
                : new TransportIdentity(ListenerTls.CommonName(clientCertificate), Rfc2253Name.Format(clientCertificate.SubjectName)),
        };
}
