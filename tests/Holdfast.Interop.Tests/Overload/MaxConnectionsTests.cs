using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using MQTTnet;
using MQTTnet.Formatter;

namespace Holdfast.Interop.Tests.Overload;

public class MaxConnectionsTests
{
    [Fact]
    public async Task A_connection_past_max_connections_is_refused_and_logged_and_a_freed_slot_is_reusable()
    {
        await using var broker = await TestBroker.StartAsync(listenerText: "max_connections 2");
        await using var a = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "mc-a");
        var b = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "mc-b");

        var third = new MqttClientFactory().CreateMqttClient();
        await Assert.ThrowsAnyAsync<Exception>(() => third.ConnectAsync(MqttNetPeer.Options(broker.Port, MqttProtocolVersion.V500, "mc-c").Build()));
        await broker.Log.WaitForAsync("max_connections 2 reached");

        await b.DisconnectAsync();
        await b.DisposeAsync();
        await broker.Log.WaitForAsync("Client mc-b disconnected");
        // The slot is released when the connection has fully ended; retry until it has.
        await Waits.UntilAsync(() =>
        {
            try { return third.ConnectAsync(MqttNetPeer.Options(broker.Port, MqttProtocolVersion.V500, "mc-c").Build()).Wait(TimeSpan.FromSeconds(5)); }
            catch (AggregateException) { return false; }
        }, "a freed slot");
        Assert.True(third.IsConnected);
        third.Dispose();
    }
}
