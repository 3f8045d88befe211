using System.Net;

namespace Holdfast.Server.Configuration;

/// <summary>Holdfast's <c>metrics_listener PORT [ADDRESS]</c>: where GET /metrics (Prometheus text format) is served,
/// over HTTP/1.1 on a port of its own.</summary>
public sealed class MetricsListenerConfig
{
    /// <summary>0 only when set in code (tests): an ephemeral port.</summary>
    public int Port { get; set; }

    /// <summary>Loopback unless the operator opens it wider: the numbers describe the deployment.</summary>
    public IPAddress Address { get; set; } = IPAddress.Loopback;

    /// <summary>The line that set it (the last metrics_listener line wins), for errors found after parsing.</summary>
    public string File { get; set; } = "";

    public int Line { get; set; }
}
