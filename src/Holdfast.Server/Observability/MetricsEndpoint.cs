using System.Net;
using Holdfast.Server.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Holdfast.Server.Observability;

/// <summary>
/// metrics_listener: GET /metrics over HTTP/1.1 on a port of its own, in the same Kestrel app as the MQTT listeners.
/// Only requests that arrived on that port reach it, so other HTTP listeners of the app (WebSockets) never serve
/// /metrics, and this port serves nothing else.
/// </summary>
internal sealed class MetricsEndpoint(MetricsListenerConfig config, PrometheusExposition exposition)
{
    private ListenOptions? _listen;

    /// <summary>The bound endpoint (the actual port when configured with 0), once the app has started.</summary>
    public IPEndPoint? Endpoint => _listen?.IPEndPoint;

    public void Listen(KestrelServerOptions kestrel) =>
        kestrel.Listen(config.Address, config.Port, listen =>
        {
            listen.Protocols = HttpProtocols.Http1;
            _listen = listen;
        });

    public void Map(IApplicationBuilder app) =>
        // Kestrel updates the listen options with the port it bound, so a port 0 endpoint is matched too.
        app.MapWhen(context => _listen?.IPEndPoint is { } bound && context.Connection.LocalPort == bound.Port,
            metrics => metrics.Run(ServeAsync));

    private async Task ServeAsync(HttpContext context)
    {
        var response = context.Response;
        if (context.Request.Path != "/metrics")
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        if (!HttpMethods.IsGet(context.Request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = "GET";
            return;
        }
        response.ContentType = PrometheusExposition.ContentType;
        await response.WriteAsync(exposition.Write());
    }
}
