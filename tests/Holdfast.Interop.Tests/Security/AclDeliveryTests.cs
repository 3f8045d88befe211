using System.Text;
using Holdfast.Broker;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using Holdfast.Protocol;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.Security;

/// <summary>acl_file where a message was already on its way: inflight messages resent to whoever resumes the session, and
/// shared subscriptions whose members may read different topics.</summary>
public sealed class AclDeliveryTests : IDisposable
{
    private readonly AclTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    private const string Rules = """
        # anonymous clients
        topic read open/#
        topic write open/in

        user alice
        topic readwrite plant/#
        """;

    private Task<TestBroker> StartAsync() => TestBroker.StartAsync($"acl_file {_files.WriteAcl(Rules)}");

    private static ConnectPacket Resume(string clientId, string? userName)
    {
        var connect = RawMqttClient.Connect(ProtocolVersion.V500, clientId, persistent: true);
        connect.UserName = userName;
        return connect;
    }

    [Fact]
    public async Task An_inflight_publish_is_not_resent_to_a_user_who_may_not_read_it_but_a_pubrel_is()
    {
        await using var broker = await StartAsync();
        var (alice, _) = await RawMqttClient.ConnectAsync(broker.Port, Resume("shared-device", "alice"));
        await using (alice)
        {
            await alice.SubscribeAsync(1, "plant/#", QualityOfService.ExactlyOnce);
            await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "resend-publisher", b => b.WithCredentials("alice", ""));
            await publisher.PublishAsync("plant/q2", "past pubrec", MqttQualityOfServiceLevel.ExactlyOnce);
            await publisher.PublishAsync("plant/q1", "unacknowledged", MqttQualityOfServiceLevel.AtLeastOnce);
            // The QoS 2 flow moves past PUBREC; the QoS 1 message stays unacknowledged.
            var q2 = await alice.ReceiveAsync<PublishPacket>();
            Assert.Equal("plant/q2", q2.Topic);
            var q1 = await alice.ReceiveAsync<PublishPacket>();
            Assert.Equal("plant/q1", q1.Topic);
            await alice.SendAsync(new PubRecPacket { PacketId = q2.PacketId });
            Assert.Equal(q2.PacketId, (await alice.ReceiveAsync<PubRelPacket>()).PacketId);
            alice.Drop();
            await broker.Log.WaitForAsync("Client shared-device closed its connection");

            // The same client id resumes the session as an anonymous client, which may not read plant/#.
            var (anonymous, connack) = await RawMqttClient.ConnectAsync(broker.Port, Resume("shared-device", null));
            await using (anonymous)
            {
                Assert.True(connack.SessionPresent);
                // The PUBREL carries no message and completes the flow; the unreadable PUBLISH is not resent.
                Assert.Equal(q2.PacketId, (await anonymous.ReceiveAsync<PubRelPacket>()).PacketId);
                await anonymous.SendAsync(new PubCompPacket { PacketId = q2.PacketId });
                await anonymous.AssertNothingReceivedAsync();
                Assert.Equal(1, broker.Metrics.Dropped(DropCause.NotAuthorized));

                // The dropped flow is finished: nothing is resent on the next resume either, and its packet id is free.
                anonymous.Drop();
                await Waits.UntilAsync(() => broker.Log.Count("Client shared-device closed its connection") == 2, "the second connection to end");
            }
            var (again, _) = await RawMqttClient.ConnectAsync(broker.Port, Resume("shared-device", "alice"));
            await using (again)
            {
                await again.AssertNothingReceivedAsync();
                await publisher.PublishAsync("plant/q1", "after", MqttQualityOfServiceLevel.AtLeastOnce);
                var after = await again.ReceiveAsync<PublishPacket>();
                Assert.Equal(("after", false), (Encoding.UTF8.GetString(after.Payload.Span), after.Dup));
            }
        }
    }

    [Fact]
    public async Task A_shared_subscription_delivers_to_a_member_that_may_read_the_topic()
    {
        await using var broker = await StartAsync();
        await using var alice = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "share-alice", b => b.WithCredentials("alice", ""));
        await alice.SubscribeAsync("$share/workers/#");
        await using var anonymous = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "share-anon");
        // Granted: an anonymous client may read open/#, part of '#'.
        await anonymous.SubscribeAsync("$share/workers/#");

        // Round-robin would hand every other message to the anonymous member, which may not read plant/#.
        for (int i = 0; i < 4; i++) await alice.PublishAsync("plant/job", $"job {i}");
        Assert.Equal(["job 0", "job 1", "job 2", "job 3"], (await alice.ReceiveAsync(4)).Select(m => m.Text));
        // open/in is readable by the anonymous member only.
        await anonymous.PublishAsync("open/in", "open job");
        Assert.Equal("open job", (await anonymous.ReceiveAsync()).Text);
        await alice.AssertNothingReceivedAsync();
        anonymous.AssertNothingPending();
        Assert.Equal(0, broker.Metrics.Dropped(DropCause.NotAuthorized));
    }
}
