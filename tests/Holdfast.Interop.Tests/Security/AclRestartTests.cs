using System.Text;
using Holdfast.Broker;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using Holdfast.Protocol;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.Security;

/// <summary>acl_file across a broker restart on the same data directory: a recovered session is still judged as the user
/// and listener of its last connection (its delayed will, the messages routed to it while offline).</summary>
public sealed class AclRestartTests : IDisposable
{
    private readonly AclTestFiles _files = new();
    private readonly string _data = Directory.CreateTempSubdirectory("holdfast-acl-restart-").FullName;

    public void Dispose()
    {
        _files.Dispose();
        try { Directory.Delete(_data, recursive: true); } catch (IOException) { }
    }

    private const string Rules = """
        # anonymous clients
        topic read open/#
        topic write open/in

        user alice
        topic readwrite plant/#
        """;

    private Task<TestBroker> StartAsync(string extra = "") =>
        TestBroker.StartAsync($"persistence true\npersistence_location {_data}\nacl_file {_files.WriteAcl(Rules)}\n{extra}");

    /// <summary>MQTT 5, session expiry 60 s, a retained QoS 1 will on <paramref name="topic"/> delayed by <paramref name="delay"/>.</summary>
    private static ConnectPacket WillConnect(string clientId, string? userName, string topic, TimeSpan delay)
    {
        var connect = RawMqttClient.Connect(ProtocolVersion.V500, clientId, persistent: true);
        connect.Properties = new MqttProperties { SessionExpiryInterval = 60 };
        connect.UserName = userName;
        connect.Will = new WillMessage
        {
            Topic = topic,
            Payload = Encoding.UTF8.GetBytes($"{clientId} gone"),
            QoS = QualityOfService.AtLeastOnce,
            Retain = true,
            Properties = new MqttProperties { WillDelayInterval = (uint)delay.TotalSeconds },
        };
        return connect;
    }

    [Fact]
    public async Task A_delayed_will_pending_at_a_restart_is_judged_as_its_client_was()
    {
        // Longer than a graceful restart takes here, so that both wills are still pending when the broker stops.
        var delay = TimeSpan.FromSeconds(5);
        await using (var first = await StartAsync())
        {
            // The anonymous client may not write plant/#; alice may.
            foreach (var (id, user) in new[] { ("will-anon", (string?)null), ("will-alice", "alice") })
            {
                var (client, _) = await RawMqttClient.ConnectAsync(first.Port, WillConnect(id, user, $"plant/will/{id}", delay));
                client.Drop();
                await client.DisposeAsync();
                await first.Log.WaitForAsync($"Client {id} closed its connection");
            }
            Assert.False(first.Log.Contains("ill of will-"), "a will was due before the restart; the test needs a longer delay");
        }

        await using var second = await StartAsync();
        await second.Log.WaitForAsync("Publishing will of will-alice on 'plant/will/will-alice'.");
        await second.Log.WaitForAsync("Will of will-anon on 'plant/will/will-anon' not published: not authorized.");
        Assert.False(second.Log.Contains("Publishing will of will-anon"));
        // Only alice's will was retained.
        Assert.Equal(1, second.Status().RetainedMessages);
    }

    [Fact]
    public async Task Messages_a_recovered_offline_session_may_not_read_are_not_queued_for_it()
    {
        await using (var first = await StartAsync("max_queued_messages 2"))
        {
            await using var subscriber = await MqttNetPeer.ConnectPersistentAsync(first.Port, MqttProtocolVersion.V500, "queue-anon");
            // Granted: some of '#' is readable for an anonymous client (open/#).
            await subscriber.SubscribeAsync("#");
            await subscriber.DisconnectAsync();
        }

        await using var second = await StartAsync("max_queued_messages 2");
        await using var alice = await MqttNetPeer.ConnectAsync(second.Port, MqttProtocolVersion.V500, "queue-alice", b => b.WithCredentials("alice", ""));
        // The offline subscriber may not read plant/#: these neither fill its queue nor get refused with 0x97.
        for (int i = 0; i < 5; i++)
            Assert.Equal(MqttClientPublishReasonCode.Success, (await alice.PublishAsync("plant/temp", $"t{i}")).ReasonCode);
        await using var anonymous = await MqttNetPeer.ConnectAsync(second.Port, MqttProtocolVersion.V500, "queue-open");
        Assert.Equal(MqttClientPublishReasonCode.Success, (await anonymous.PublishAsync("open/in", "readable")).ReasonCode);

        await using var back = await MqttNetPeer.ConnectPersistentAsync(second.Port, MqttProtocolVersion.V500, "queue-anon");
        Assert.True(back.ConnectResult.IsSessionPresent);
        Assert.Equal("readable", (await back.ReceiveAsync()).Text);
        await back.AssertNothingReceivedAsync();
        Assert.Equal(5, second.Metrics.Dropped(DropCause.NotAuthorized));
    }
}
