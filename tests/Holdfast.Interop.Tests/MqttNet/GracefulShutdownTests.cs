using Holdfast.Interop.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>Graceful shutdown (issue 2): stopping the server disconnects clients, MQTT 5 clients with DISCONNECT
/// 0x8B Server shutting down.</summary>
public sealed class GracefulShutdownTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Stop_disconnects_clients_and_v5_clients_get_server_shutting_down(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = await MqttNetPeer.ConnectAsync(broker.Port, version, $"shutdown-{version}");
        await client.SubscribeAsync("shutdown/t");

        await broker.Server.StopAsync().Within(what: "the server to stop");

        var disconnected = await client.Disconnected.Within(what: "the client to be disconnected by the shutdown");
        if (version == MqttProtocolVersion.V500)
            Assert.Equal(MqttClientDisconnectReason.ServerShuttingDown, disconnected.Reason);
        Assert.False(client.Client.IsConnected);
        await broker.Log.WaitForAsync("terminating");
    }
}
