using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.WebSockets;
using Holdfast.Broker;
using Holdfast.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Holdfast.Server.Connections;

/// <summary>
/// MQTT over WebSockets (protocol websockets, MQTT 5.0 §6): an HTTP/1.1 listener that accepts WebSocket upgrades with
/// the sub-protocol mqtt (or mqttv3.1, which Mosquitto also accepts) on any path, and nothing else. The binary frames
/// carry the MQTT byte stream: received frames are streamed into a pipe that <see cref="MqttConnection"/> reads exactly
/// as it reads a socket (a packet may span frames, a frame may hold several packets), and what the connection sends
/// goes out as one binary message per MQTT packet: MQTT allows several in one, but widely used clients (the Paho C
/// library's WebSocket reader among them) read one packet per message and stall on the rest, and Mosquitto sends one.
/// </summary>
internal sealed class WebSocketTransport : IDuplexPipe
{
    /// <summary>How long the client may take to answer our close frame before the connection is dropped.</summary>
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(5);

    private static readonly object ListenerKey = new();

    private readonly WebSocket _socket;
    private readonly Pipe _input = new();
    private readonly Pipe _output = new();
    private WebSocketCloseStatus _closeStatus = WebSocketCloseStatus.NormalClosure;
    private string? _closeDescription;

    private WebSocketTransport(WebSocket socket) => _socket = socket;

    public PipeReader Input => _input.Reader;
    public PipeWriter Output => _output.Writer;

    /// <summary>Makes a Kestrel listener a WebSocket listener: HTTP/1.1, its connections marked as <paramref name="listener"/>'s.</summary>
    public static void Listen(ListenOptions listen, ListenerContext listener)
    {
        listen.Protocols = HttpProtocols.Http1;
        listen.Use(next => connection =>
        {
            connection.Items[ListenerKey] = listener;
            return next(connection);
        });
    }

    /// <summary>Serves the WebSocket listeners' requests. Requests on other HTTP listeners (e.g. /metrics) never enter this
    /// branch, and requests on these listeners never leave it.</summary>
    public static void Map(WebApplication app, Func<ClientTransport, ListenerContext, Task> runConnection, IBrokerLog log)
    {
        app.MapWhen(http => ListenerOf(http) is not null, branch =>
        {
            // MQTT's keep-alive already watches the connection; WebSocket pings would only add traffic.
            branch.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });
            branch.Run(http => AcceptAsync(http, ListenerOf(http)!, runConnection, log));
        });
    }

    private static ListenerContext? ListenerOf(HttpContext http) =>
        http.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(ListenerKey, out var listener) == true ? listener as ListenerContext : null;

    private static async Task AcceptAsync(HttpContext http, ListenerContext listener, Func<ClientTransport, ListenerContext, Task> runConnection, IBrokerLog log)
    {
        var remote = new IPEndPoint(http.Connection.RemoteIpAddress ?? IPAddress.None, http.Connection.RemotePort);
        if (!http.WebSockets.IsWebSocketRequest)
        {
            // Only MQTT is served here (Mosquitto without http_dir): no pages, no other endpoints.
            http.Response.StatusCode = StatusCodes.Status404NotFound;
            http.Response.Headers.Connection = "close";
            return;
        }
        var offered = http.WebSockets.WebSocketRequestedProtocols;
        // MQTT-6.0.0-4: "mqtt" when the client offers it, whatever else it offers first.
        string? subProtocol = offered.Contains("mqtt") ? "mqtt" : offered.FirstOrDefault(p => p == "mqttv3.1");
        if (subProtocol is null)
        {
            // The client must offer mqtt [MQTT-6.0.0-3]; anything else is some other protocol that has come to the wrong port.
            if (log.IsEnabled(LogType.Notice))
                log.Notice($"Client connection from {remote} refused: WebSocket sub-protocol {(offered.Count == 0 ? "missing" : $"'{string.Join(", ", offered)}'")}, expected mqtt.");
            http.Response.StatusCode = StatusCodes.Status400BadRequest;
            http.Response.Headers.Connection = "close";
            return;
        }
        using var socket = await http.WebSockets.AcceptWebSocketAsync(subProtocol);
        var transport = new WebSocketTransport(socket);
        var client = ListenerContext.Transport(transport, remote, http.Connection.LocalPort, () => { socket.Abort(); http.Abort(); },
            http.Connection.ClientCertificate);
        await transport.RunAsync(() => runConnection(client, listener), log, client.RemoteAddress);
    }

    private async Task RunAsync(Func<Task> runConnection, IBrokerLog log, string remote)
    {
        var receiving = ReceiveAsync(log, remote);
        var sending = SendAsync();
        await runConnection();
        // The MQTT connection is done with the input; the receive loop stops handing it data.
        await _input.Reader.CompleteAsync();
        // A client that stopped reading would hold a send (and the socket, and what the kernel buffers for it) forever.
        if (await Task.WhenAny(sending, Task.Delay(CloseTimeout)) != sending) _socket.Abort();
        await sending;
        // The client answers our close frame; one that does not is dropped.
        if (await Task.WhenAny(receiving, Task.Delay(CloseTimeout)) != receiving) _socket.Abort();
        await receiving;
    }

    /// <summary>Streams received binary frames into the input pipe, frame boundaries ignored. Ends (the MQTT connection sees
    /// the stream close) when the client closes or drops the connection or sends a text frame.</summary>
    private async Task ReceiveAsync(IBrokerLog log, string remote)
    {
        var writer = _input.Writer;
        try
        {
            while (true)
            {
                var received = await _socket.ReceiveAsync(writer.GetMemory(), CancellationToken.None);
                if (received.MessageType == WebSocketMessageType.Close) break;
                if (received.MessageType == WebSocketMessageType.Text)
                {
                    // MQTT control packets travel in binary frames only; anything else closes the connection [MQTT-6.0.0-1].
                    if (log.IsEnabled(LogType.Notice))
                        log.Notice($"Client connection from {remote} sent a WebSocket text frame; MQTT is sent in binary frames only, closing.");
                    (_closeStatus, _closeDescription) = (WebSocketCloseStatus.InvalidMessageType, "MQTT uses binary frames only");
                    break;
                }
                writer.Advance(received.Count);
                if ((await writer.FlushAsync()).IsCompleted) break;
            }
        }
        catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The client dropped the connection: the MQTT connection sees its input end, as with a socket.
        }
        finally
        {
            await writer.CompleteAsync();
        }
    }

    /// <summary>Sends each MQTT packet the connection wrote as one binary message (a frame per pipe segment it spans),
    /// then, when the connection completes its output, the close frame.</summary>
    private async Task SendAsync()
    {
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                var buffer = result.Buffer;
                // The connection writes whole packets; a flush may still end inside one (a large packet), which waits
                // for its rest.
                while (PacketReader.TryMeasure(buffer, out long length) && length <= buffer.Length)
                {
                    await SendMessageAsync(buffer.Slice(0, length));
                    buffer = buffer.Slice(length);
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted || result.IsCanceled) break;
            }
            using var timeout = new CancellationTokenSource(CloseTimeout);
            await _socket.CloseOutputAsync(_closeStatus, _closeDescription, timeout.Token);
        }
        catch (Exception e) when (e is WebSocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The client is gone; completing the reader below makes the MQTT connection's writes end too.
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    private async Task SendMessageAsync(ReadOnlySequence<byte> packet)
    {
        long left = packet.Length;
        foreach (var segment in packet)
        {
            if (segment.IsEmpty) continue;
            left -= segment.Length;
            await _socket.SendAsync(segment, WebSocketMessageType.Binary, endOfMessage: left == 0, CancellationToken.None);
        }
    }
}
