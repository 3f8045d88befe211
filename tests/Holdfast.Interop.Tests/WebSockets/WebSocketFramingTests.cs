using System.Net;
using System.Net.WebSockets;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using Holdfast.Protocol;
using MQTTnet;
using MQTTnet.Formatter;

namespace Holdfast.Interop.Tests.WebSockets;

/// <summary>What a websockets listener does with frames and requests no client library produces on purpose: packets
/// split across frames, several packets in one frame, text frames, other sub-protocols, plain HTTP; keep-alive.</summary>
public sealed class WebSocketFramingTests
{
    private const string WebSocketListener = "protocol websockets";

    private static ConnectPacket Connect(string clientId, ushort keepAlive = 60, WillMessage? will = null) =>
        new() { ProtocolVersion = ProtocolVersion.V311, ClientId = clientId, CleanStart = true, KeepAlive = keepAlive, Will = will };

    [Fact]
    public async Task A_packet_may_span_frames_and_a_frame_may_hold_several_packets()
    {
        await using var broker = await TestBroker.StartAsync(listenerText: WebSocketListener);
        await using var client = await RawWebSocketClient.OpenAsync(broker.Port, "mqtt");
        Assert.Equal("mqtt", client.Socket.SubProtocol);

        // CONNECT in three messages, the last one itself in two frames (a continuation frame).
        byte[] connect = RawWebSocketClient.Encode(Connect("ws-raw"));
        await client.SendFrameAsync(connect.AsMemory(0, 1));
        await client.SendFrameAsync(connect.AsMemory(1, 5));
        await client.SendFrameAsync(connect.AsMemory(6, 4), endOfMessage: false);
        await client.SendFrameAsync(connect.AsMemory(10));
        var connack = Assert.IsType<ConnAckPacket>(await client.ReceiveAsync());
        Assert.Equal(ReasonCode.Success, connack.ReasonCode);

        // SUBSCRIBE, a QoS 1 PUBLISH to that subscription and PINGREQ in one frame.
        byte[] three = RawWebSocketClient.Encode(
            new SubscribePacket { PacketId = 1, Subscriptions = [new TopicSubscription { TopicFilter = "raw/t", MaximumQoS = QualityOfService.AtLeastOnce }] },
            new PublishPacket { Topic = "raw/t", QoS = QualityOfService.AtLeastOnce, PacketId = 2, Payload = "one frame"u8.ToArray() },
            PingReqPacket.Instance);
        await client.SendFrameAsync(three);
        var received = new List<MqttPacket>();
        for (int i = 0; i < 4; i++) received.Add((await client.ReceiveAsync())!);
        Assert.Contains(received, p => p is SubAckPacket { PacketId: 1 });
        Assert.Contains(received, p => p is PubAckPacket { PacketId: 2 });
        Assert.Contains(received, p => p is PublishPacket { Topic: "raw/t" } publish && publish.Payload.ToArray().SequenceEqual("one frame"u8.ToArray()));
        Assert.Contains(received, p => p is PingRespPacket);
    }

    /// <summary>Packets the broker sends together (here SUBACK, PUBACK, PUBLISH and PINGRESP answering one frame) go out
    /// one per WebSocket message, as Mosquitto sends them: clients such as the Paho C library read one packet per
    /// message and stall on the rest.</summary>
    [Fact]
    public async Task Each_packet_the_broker_sends_is_a_WebSocket_message_of_its_own()
    {
        await using var broker = await TestBroker.StartAsync(listenerText: WebSocketListener);
        await using var client = await RawWebSocketClient.OpenAsync(broker.Port, "mqtt");
        await client.SendFrameAsync(RawWebSocketClient.Encode(Connect("ws-one")));
        Assert.IsType<ConnAckPacket>(PacketOf(await client.ReceiveMessageAsync()));

        var large = new byte[200_000];
        await client.SendFrameAsync(RawWebSocketClient.Encode(
            new SubscribePacket { PacketId = 1, Subscriptions = [new TopicSubscription { TopicFilter = "one/t", MaximumQoS = QualityOfService.AtLeastOnce }] },
            new PublishPacket { Topic = "one/t", QoS = QualityOfService.AtLeastOnce, PacketId = 2, Payload = "small"u8.ToArray() },
            new PublishPacket { Topic = "one/t", QoS = QualityOfService.AtLeastOnce, PacketId = 3, Payload = large },
            PingReqPacket.Instance));
        var received = new List<MqttPacket>();
        for (int i = 0; i < 6; i++) received.Add(PacketOf(await client.ReceiveMessageAsync()));
        Assert.Contains(received, p => p is SubAckPacket { PacketId: 1 });
        Assert.Contains(received, p => p is PubAckPacket { PacketId: 2 });
        Assert.Contains(received, p => p is PubAckPacket { PacketId: 3 });
        Assert.Contains(received, p => p is PublishPacket { Payload.Length: 5 });
        Assert.Contains(received, p => p is PublishPacket { Payload.Length: 200_000 });
        Assert.Contains(received, p => p is PingRespPacket);

        // Exactly one packet in the message, nothing before or after it.
        static MqttPacket PacketOf(byte[]? message)
        {
            Assert.NotNull(message);
            var sequence = new System.Buffers.ReadOnlySequence<byte>(message);
            Assert.True(PacketReader.TryRead(ref sequence, ProtocolVersion.V311, 1 << 20, out var packet), "an incomplete packet");
            Assert.True(sequence.IsEmpty, $"{sequence.Length} byte(s) after the {packet!.GetType().Name} in one message");
            return packet!;
        }
    }

    [Fact]
    public async Task The_mqttv31_sub_protocol_is_accepted_as_Mosquitto_does()
    {
        await using var broker = await TestBroker.StartAsync(listenerText: WebSocketListener);
        await using var client = await RawWebSocketClient.OpenAsync(broker.Port, "mqttv3.1");
        Assert.Equal("mqttv3.1", client.Socket.SubProtocol);
        await client.SendFrameAsync(RawWebSocketClient.Encode(Connect("ws-v31")));
        Assert.IsType<ConnAckPacket>(await client.ReceiveAsync());
    }

    [Theory]
    [InlineData("chat")]
    [InlineData(null)]
    public async Task Other_sub_protocols_are_refused(string? subProtocol)
    {
        await using var broker = await TestBroker.StartAsync(listenerText: WebSocketListener);
        await Assert.ThrowsAsync<WebSocketException>(() => subProtocol is null
            ? RawWebSocketClient.OpenAsync(broker.Port) : RawWebSocketClient.OpenAsync(broker.Port, subProtocol));
        await broker.Log.WaitForAsync(subProtocol is null ? "WebSocket sub-protocol missing, expected mqtt" : $"WebSocket sub-protocol '{subProtocol}', expected mqtt");
    }

    [Fact]
    public async Task Plain_HTTP_requests_get_404()
    {
        await using var broker = await TestBroker.StartAsync(listenerText: WebSocketListener);
        using var http = new HttpClient();
        foreach (var path in new[] { "/", "/mqtt", "/metrics" })
        {
            var response = await http.GetAsync($"http://127.0.0.1:{broker.Port}{path}");
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
    }

    [Fact]
    public async Task A_text_frame_closes_the_connection()
    {
        await using var broker = await TestBroker.StartAsync(listenerText: WebSocketListener);
        await using var client = await RawWebSocketClient.OpenAsync(broker.Port, "mqtt");
        await client.SendFrameAsync(RawWebSocketClient.Encode(Connect("ws-text")));
        Assert.IsType<ConnAckPacket>(await client.ReceiveAsync());
        await client.SendFrameAsync("hello"u8.ToArray(), type: WebSocketMessageType.Text);
        Assert.Null(await client.ReceiveAsync());
        Assert.Equal(WebSocketCloseStatus.InvalidMessageType, client.Socket.CloseStatus);
        await broker.Log.WaitForAsync("sent a WebSocket text frame");
    }

    [Fact]
    public async Task Keep_alive_ends_a_silent_WebSocket_client_and_its_will_is_published()
    {
        await using var broker = await TestBroker.StartAsync(listenerText: WebSocketListener);
        await using var watcher = await MqttNetWebSocketTests.ConnectAsync(broker.Port, MqttProtocolVersion.V311, "ws-ka-watcher");
        await watcher.SubscribeAsync("ws/ka/will");
        await using var silent = await RawWebSocketClient.OpenAsync(broker.Port, "mqtt");
        var started = DateTime.UtcNow;
        await silent.SendFrameAsync(RawWebSocketClient.Encode(Connect("ws-ka", keepAlive: 1,
            new WillMessage { Topic = "ws/ka/will", Payload = "silent"u8.ToArray(), QoS = QualityOfService.AtLeastOnce })));
        Assert.IsType<ConnAckPacket>(await silent.ReceiveAsync());

        await broker.Log.WaitForAsync("Client ws-ka has exceeded timeout, disconnecting.");
        var elapsed = DateTime.UtcNow - started;
        Assert.True(elapsed < TimeSpan.FromSeconds(5), $"took {elapsed.TotalSeconds:F1} s for a 1 s keep-alive");
        Assert.Equal("silent", (await watcher.ReceiveAsync()).Text);
        Assert.Null(await silent.ReceiveAsync());
    }
}
