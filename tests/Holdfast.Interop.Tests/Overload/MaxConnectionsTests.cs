using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using MQTTnet;
using MQTTnet.Formatter;

namespace Holdfast.Interop.Tests.Overload;

/// <summary>max_connections: the client past the limit is told why (CONNACK 0x97 Quota exceeded; 3.1.1: 3 Server
/// unavailable) without the broker ever seeing it, and a slot frees when a client leaves.</summary>
public class MaxConnectionsTests
{
    [Fact]
    public async Task A_connection_past_max_connections_gets_quota_exceeded_and_a_freed_slot_is_reusable()
    {
        await using var broker = await TestBroker.StartAsync(listenerText: "max_connections 2");
        await using var a = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "mc-a");
        var b = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "mc-b");

        // The refused client even asks for mc-a's id: a refusal must not take over (or otherwise touch) that session.
        Assert.Equal(MqttClientConnectResultCode.QuotaExceeded,
            await ConnectAndSessionPresentTests.TryConnectAsync(MqttNetPeer.Options(broker.Port, MqttProtocolVersion.V500, "mc-a").Build()));
        Assert.Contains("(CONNACK 0x97)", await broker.Log.WaitForAsync("max_connections 2 reached on port"));
        Assert.True(a.Client.IsConnected);
        Assert.False(a.Disconnected.IsCompleted);
        Assert.DoesNotContain(broker.Log.Lines, l => l.Contains("already connected"));
        // mc-a still works.
        await a.SubscribeAsync("mc/t");
        await a.PublishAsync("mc/t", "still here");
        Assert.Equal("still here", (await a.ReceiveAsync()).Text);

        await b.DisconnectAsync();
        await b.DisposeAsync();
        await broker.Log.WaitForAsync("Client mc-b disconnected");
        // The slot is released when the connection has fully ended; retry until it has.
        var third = new MqttClientFactory().CreateMqttClient();
        await Waits.UntilAsync(() =>
        {
            try { return third.ConnectAsync(MqttNetPeer.Options(broker.Port, MqttProtocolVersion.V500, "mc-c").Build()).Wait(TimeSpan.FromSeconds(5)); }
            catch (AggregateException) { return false; }
        }, "a freed slot");
        Assert.True(third.IsConnected);
        third.Dispose();
    }

    [SkippableTheory]
    [InlineData("mqttv311", 3, "Connection Refused: broker unavailable", "(CONNACK 3)")]
    [InlineData("mqttv5", 0x97, "Quota exceeded", "(CONNACK 0x97)")]
    public async Task Mosquitto_pub_past_the_limit_gets_the_refusal_code(string version, int exitCode, string message, string logged)
    {
        await using var broker = await TestBroker.StartAsync(listenerText: "max_connections 1");
        await using var only = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V311, "mc-only");
        var (exit, _, stderr) = await ProcessRunner.RunAsync(DebianTool.Require("mosquitto_pub"),
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(), "-V", version, "-i", "mc-pub", "-t", "mc/t", "-m", "x"], TimeSpan.FromSeconds(20));
        Assert.Equal(exitCode, exit);
        Assert.Contains(message, stderr);
        Assert.Contains(logged, await broker.Log.WaitForAsync("max_connections 1 reached on port"));
    }

    [Fact]
    public async Task A_connection_past_the_limit_that_never_sends_CONNECT_is_closed()
    {
        await using var broker = await TestBroker.StartAsync(listenerText: "max_connections 1");
        await using var only = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V311, "mc-only");
        await using var raw = await RawMqttClient.OpenAsync(broker.Port, Holdfast.Protocol.ProtocolVersion.V311);
        // Not a CONNECT: nothing to answer, the connection is closed at once.
        await raw.SendBytesAsync([0xC0, 0x00]);
        Assert.Null(await raw.ReceiveOrCloseAsync());
        await broker.Log.WaitForAsync("max_connections 1 reached on port");
    }

    [Fact]
    public async Task A_silent_connection_past_the_limit_is_closed_soon_and_logged()
    {
        // A flood of sockets that never speak must not hold file descriptors for the whole 10 s CONNECT timeout.
        await using var broker = await TestBroker.StartAsync(listenerText: "max_connections 1");
        await using var only = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V311, "mc-only");
        await using var raw = await RawMqttClient.OpenAsync(broker.Port, Holdfast.Protocol.ProtocolVersion.V311);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        Assert.Null(await raw.ReceiveOrCloseAsync());
        Assert.True(waited.Elapsed < TimeSpan.FromSeconds(8), $"closed after {waited.Elapsed}");
        Assert.Contains("(no CONNECT, closed)", await broker.Log.WaitForAsync("max_connections 1 reached on port"));
    }
}
