using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.WebSockets;

/// <summary>The MQTTnet client's WebSocket transport against a Holdfast websockets listener.</summary>
public sealed class MqttNetWebSocketTests
{
    private const string WebSocketListener = "protocol websockets";

    /// <summary>A clean client over ws://127.0.0.1:PORT/mqtt (MqttNetPeer.Options would choose TCP).</summary>
    public static MqttClientOptionsBuilder Options(int port, MqttProtocolVersion version, string clientId) =>
        new MqttClientOptionsBuilder()
            .WithWebSocketServer(ws => ws.WithUri($"ws://127.0.0.1:{port}/mqtt"))
            .WithProtocolVersion(version)
            .WithClientId(clientId)
            .WithCleanSession(true)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(30))
            .WithTimeout(TimeSpan.FromSeconds(30));

    public static Task<MqttNetPeer> ConnectAsync(int port, MqttProtocolVersion version, string clientId) =>
        MqttNetPeer.ConnectAsync(Options(port, version, clientId).Build());

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task QoS_1_both_ways(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync(listenerText: WebSocketListener);
        await using var subscriber = await ConnectAsync(broker.Port, version, "ws-sub");
        await subscriber.SubscribeAsync("ws/#");
        await using var publisher = await ConnectAsync(broker.Port, version, "ws-pub");
        for (int i = 0; i < 50; i++)
        {
            var result = await publisher.PublishAsync($"ws/{i % 3}", $"m{i}");
            Assert.True(result.IsSuccess);
        }
        var received = await subscriber.ReceiveAsync(50);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"m{i}"), received.Select(m => m.Text));
        Assert.All(received, m => Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, m.QoS));
        await broker.Log.WaitForAsync("Received PUBACK from ws-sub (Mid: 50, RC:0)");
    }

    [Fact]
    public async Task A_will_is_published_when_the_WebSocket_connection_drops()
    {
        await using var broker = await TestBroker.StartAsync(listenerText: WebSocketListener);
        await using var watcher = await ConnectAsync(broker.Port, MqttProtocolVersion.V500, "ws-watcher");
        await watcher.SubscribeAsync("ws/will");
        var doomed = await MqttNetPeer.ConnectAsync(Options(broker.Port, MqttProtocolVersion.V500, "ws-doomed")
            .WithWillTopic("ws/will").WithWillPayload("gone").WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        // Disposing without DISCONNECT drops the connection: an abnormal end, so the will goes out.
        doomed.Client.Dispose();
        var will = await watcher.ReceiveAsync();
        Assert.Equal("gone", will.Text);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Graceful_shutdown_disconnects_WebSocket_clients_as_TCP_ones(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync(listenerText: WebSocketListener);
        await using var client = await ConnectAsync(broker.Port, version, "ws-shutdown");
        await broker.Server.StopAsync().Within(what: "the server to stop");
        var disconnected = await client.Disconnected.Within(what: "the client to be disconnected by the shutdown");
        if (version == MqttProtocolVersion.V500)
            Assert.Equal(MqttClientDisconnectReason.ServerShuttingDown, disconnected.Reason);
        Assert.False(client.Client.IsConnected);
    }
}
