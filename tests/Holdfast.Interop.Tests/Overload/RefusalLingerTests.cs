using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Protocol;

namespace Holdfast.Interop.Tests.Overload;

/// <summary>A refused client that keeps writing (pipelined packets after CONNECT) still reads why it was refused.</summary>
public class RefusalLingerTests
{
    [Theory]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public async Task A_refused_client_writing_after_CONNECT_still_gets_its_CONNACK_and_then_a_close(ProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync(listenerText: "allow_anonymous false");
        await using var client = await RawMqttClient.OpenAsync(broker.Port, version);
        await client.SendAsync(RawMqttClient.Connect(version, $"refused-{version}", persistent: false));
        // Pipelined before the CONNACK is read, and again after the broker has refused: neither may turn into a reset
        // that hides the CONNACK.
        await client.SendAsync(new SubscribePacket { PacketId = 1, Subscriptions = [new TopicSubscription { TopicFilter = "x" }] });
        var connack = await client.ReceiveAsync<ConnAckPacket>();
        Assert.Equal(ReasonCode.NotAuthorized, connack.ReasonCode);
        await client.SendAsync(PingReqPacket.Instance);
        await client.Closed.Within(what: "the broker to close after the refusal");
        Assert.DoesNotContain(client.AllReceived, p => p is SubAckPacket or PingRespPacket);
    }
}
