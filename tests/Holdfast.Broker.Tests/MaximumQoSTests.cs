using Holdfast.Protocol;

namespace Holdfast.Broker.Tests;

/// <summary>max_qos on a listener, as Mosquitto applies it: told in the CONNACK (MQTT 5), a PUBLISH or will above it
/// refused, SUBSCRIBE granted at most it.</summary>
public sealed class MaximumQoSTests
{
    private static readonly ListenerPolicy UpToQoS1 = new() { MaximumQoS = QualityOfService.AtLeastOnce };

    [Fact]
    public void The_connack_tells_an_MQTT_5_client_and_subscriptions_are_granted_at_most_it()
    {
        using var broker = TestBroker.New();
        var c = broker.Connect("c", policy: UpToQoS1);
        Assert.Equal((byte)1, c.ConnAck.Properties!.MaximumQoS);
        Assert.Null(broker.Connect("plain").ConnAck.Properties?.MaximumQoS);
        c.Subscribe("t", QualityOfService.ExactlyOnce);
        Assert.Equal([ReasonCode.GrantedQoS1], Assert.Single(c.Conn.SentOf<SubAckPacket>()).ReasonCodes);
    }

    [Theory]
    [InlineData(ProtocolVersion.V500)]
    [InlineData(ProtocolVersion.V311)]
    public void A_publish_above_it_disconnects(ProtocolVersion version)
    {
        using var broker = TestBroker.New();
        var c = broker.Connect("c", version, policy: UpToQoS1);
        c.Publish("t", "ok", QualityOfService.AtLeastOnce, 1);
        Assert.False(c.Conn.IsClosed);
        c.Publish("t", "too strong", QualityOfService.ExactlyOnce, 2);
        Assert.True(c.Conn.IsClosed);
        if (version == ProtocolVersion.V500) Assert.Equal(ReasonCode.QoSNotSupported, c.Conn.CloseReason);
    }

    [Fact]
    public void A_will_above_it_is_refused()
    {
        using var broker = TestBroker.New();
        var peer = broker.Connect("w", policy: UpToQoS1,
            will: new WillMessage { Topic = "w", Payload = "x"u8.ToArray(), QoS = QualityOfService.ExactlyOnce });
        Assert.Null(peer.ClientOrNull);
        Assert.Equal(ReasonCode.QoSNotSupported, peer.ConnAck.ReasonCode);
    }
}
