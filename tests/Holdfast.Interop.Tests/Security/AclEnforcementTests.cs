using Holdfast.Broker;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using Holdfast.Protocol;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.Security;

/// <summary>acl_file end to end with the MQTTnet client: publishes, subscriptions, deliveries (live and retained), wills.</summary>
public sealed class AclEnforcementTests : IDisposable
{
    private readonly AclTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    private const string Rules = """
        # anonymous clients
        topic read open/#
        topic write open/in

        user alice
        topic readwrite plant/#
        topic deny plant/secret/#
        topic read open/#

        pattern readwrite devices/%c/#
        pattern read inbox/%u/#
        """;

    private Task<TestBroker> StartAsync(string rules = Rules, string extra = "") =>
        TestBroker.StartAsync($"acl_file {_files.WriteAcl(rules)}\n{extra}");

    private static Task<MqttNetPeer> Alice(TestBroker broker, MqttProtocolVersion version, string clientId, Action<MqttClientOptionsBuilder>? configure = null) =>
        MqttNetPeer.ConnectAsync(broker.Port, version, clientId, b => { b.WithCredentials("alice", ""); configure?.Invoke(b); });

    [Fact]
    public async Task A_v5_publish_without_write_access_gets_0x87_and_is_not_routed()
    {
        await using var broker = await StartAsync();
        await using var watcher = await Alice(broker, MqttProtocolVersion.V500, "acl-watch-v5");
        await watcher.SubscribeAsync("plant/#");
        await using var anonymous = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "acl-anon-v5");

        var q1 = await anonymous.PublishAsync("plant/temp", "q1", MqttQualityOfServiceLevel.AtLeastOnce);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, q1.ReasonCode);
        // QoS 2 from a raw client (MQTTnet reports a refused PUBREC's flow by its PUBCOMP): PUBREC 0x87 ends the flow.
        var (raw, _) = await RawMqttClient.ConnectAsync(broker.Port, RawMqttClient.Connect(ProtocolVersion.V500, "acl-raw-v5", persistent: false));
        await using (raw)
        {
            await raw.SendAsync(new PublishPacket { Topic = "plant/temp", Payload = "q2"u8.ToArray(), QoS = QualityOfService.ExactlyOnce, PacketId = 9 });
            var pubrec = await raw.ReceiveAsync<PubRecPacket>();
            Assert.Equal((9, ReasonCode.NotAuthorized), (pubrec.PacketId, pubrec.ReasonCode));
        }
        // QoS 0 has no acknowledgement: dropped, counted and logged.
        await anonymous.PublishAsync("plant/temp", "q0", MqttQualityOfServiceLevel.AtMostOnce);
        await broker.Log.WaitForAsync("Denied PUBLISH from acl-anon-v5 (d0, q0, r0, m0, 'plant/temp', ... (2 bytes))");
        Assert.True(broker.Log.Contains("Denied PUBLISH from acl-anon-v5 (d0, q1, r0, m1, 'plant/temp', ... (2 bytes))"));

        // Alice may write there: hers is the only message the watcher gets.
        await using var alice = await Alice(broker, MqttProtocolVersion.V500, "acl-alice-v5");
        Assert.Equal(MqttClientPublishReasonCode.Success, (await alice.PublishAsync("plant/temp", "alice")).ReasonCode);
        Assert.Equal("alice", (await watcher.ReceiveAsync()).Text);
        await watcher.AssertNothingReceivedAsync();
        Assert.Equal(3, broker.Metrics.Dropped(DropCause.NotAuthorized));
    }

    [Theory]
    [InlineData(MqttQualityOfServiceLevel.AtLeastOnce)]
    [InlineData(MqttQualityOfServiceLevel.ExactlyOnce)]
    public async Task A_v311_publish_without_write_access_is_acknowledged_and_dropped(MqttQualityOfServiceLevel qos)
    {
        await using var broker = await StartAsync();
        await using var watcher = await Alice(broker, MqttProtocolVersion.V311, $"acl-watch-311-{(int)qos}");
        await watcher.SubscribeAsync("plant/#");
        await using var anonymous = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V311, $"acl-anon-311-{(int)qos}");

        // 3.1.1 has no reason code to refuse with: the flow completes (PUBACK, or PUBREC/PUBREL/PUBCOMP) as with Mosquitto 2.
        Assert.True((await anonymous.PublishAsync("plant/temp", "denied", qos)).IsSuccess);
        await broker.Log.WaitForAsync($"Denied PUBLISH from acl-anon-311-{(int)qos}");
        // The connection is fine and the next flow works.
        Assert.True((await anonymous.PublishAsync("open/in", "allowed", qos)).IsSuccess);
        await watcher.AssertNothingReceivedAsync();
        Assert.True(anonymous.Client.IsConnected);
    }

    /// <summary>As Mosquitto 2 (its tests 09-acl-empty-file, 09-acl-access-variants): acl_file never refuses a
    /// SUBSCRIBE; what is delivered is filtered by read access.</summary>
    [Theory]
    [InlineData(MqttProtocolVersion.V500)]
    [InlineData(MqttProtocolVersion.V311)]
    public async Task Subscriptions_are_granted_whatever_the_file_says(MqttProtocolVersion version)
    {
        await using var broker = await StartAsync();
        await using var alice = await Alice(broker, version, $"acl-sub-{version}");
        var result = await alice.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter("plant/#", MqttQualityOfServiceLevel.AtLeastOnce)   // readable
            .WithTopicFilter("office/#", MqttQualityOfServiceLevel.AtLeastOnce)  // no line grants it
            .WithTopicFilter("plant/secret/#", MqttQualityOfServiceLevel.AtLeastOnce) // entirely denied
            .Build());
        Assert.Equal([1, 1, 1], result.Items.Select(i => (int)i.ResultCode));

        await alice.PublishAsync("plant/secret/x", "denied to write");
        await alice.PublishAsync("plant/temp", "21");
        Assert.Equal("21", (await alice.ReceiveAsync()).Text);
        await alice.AssertNothingReceivedAsync();
    }

    [Fact]
    public async Task Deliveries_are_filtered_by_read_access_even_on_a_granted_wide_subscription()
    {
        await using var broker = await StartAsync();
        await using var alice = await Alice(broker, MqttProtocolVersion.V500, "acl-wide");
        await alice.SubscribeAsync("#");
        await using var device = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "dev1");
        await device.SubscribeAsync("#");

        // Published by a client that may write each topic; deny beats alice's plant/# grant.
        await alice.PublishAsync("plant/secret/key", "secret");
        await device.PublishAsync("devices/dev1/state", "device");
        await alice.PublishAsync("plant/temp", "21");

        Assert.Equal("21", (await alice.ReceiveAsync()).Text);
        Assert.Equal("device", (await device.ReceiveAsync()).Text);
        await alice.AssertNothingReceivedAsync();
        device.AssertNothingPending();
        // plant/secret/key: alice may not even write it (1 drop); devices/dev1/state: alice may not read it (1); plant/temp:
        // dev1 may not read it (1).
        Assert.Equal(3, broker.Metrics.Dropped(DropCause.NotAuthorized));
        Assert.Contains(broker.Log.Lines, l => l.Contains("Denied PUBLISH from acl-wide") && l.Contains("'plant/secret/key'"));
    }

    [Fact]
    public async Task Patterns_substitute_the_client_id_and_the_user_name()
    {
        await using var broker = await StartAsync();
        await using var alice = await Alice(broker, MqttProtocolVersion.V500, "acl-pattern-alice");
        await alice.SubscribeAsync("inbox/alice/#");

        await using var device = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "dev2");
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await device.PublishAsync("inbox/alice/x", "no")).ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await device.PublishAsync("devices/dev3/x", "no")).ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NoMatchingSubscribers, (await device.PublishAsync("devices/dev2/x", "yes")).ReasonCode);
    }

    [Fact]
    public async Task A_retained_message_is_not_sent_on_subscribe_to_a_client_that_may_not_read_it()
    {
        await using var broker = await StartAsync();
        await using (var alice = await Alice(broker, MqttProtocolVersion.V500, "acl-retain-alice"))
        {
            await alice.PublishAsync("plant/secret/x", "hidden", retain: true);
            await alice.PublishAsync("plant/temp", "seen", retain: true);
        }
        Assert.Equal(1, broker.Status().RetainedMessages);   // the deny stopped alice's own write too

        await using var device = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "dev4");
        await device.SubscribeAsync("#");
        await using var reader = await Alice(broker, MqttProtocolVersion.V500, "acl-retain-reader");
        await reader.SubscribeAsync("#");
        var seen = await reader.ReceiveAsync();
        Assert.Equal(("plant/temp", "seen", true), (seen.Topic, seen.Text, seen.Retain));
        await reader.AssertNothingReceivedAsync();
        device.AssertNothingPending();
        await broker.Log.WaitForAsync("Denied delivery of message");
    }

    [Fact]
    public async Task A_will_on_a_topic_its_client_may_not_write_is_not_published()
    {
        await using var broker = await StartAsync();
        await using var watcher = await Alice(broker, MqttProtocolVersion.V500, "acl-will-watch");
        await watcher.SubscribeAsync("plant/#");

        // Checked when the will is published (as Mosquitto does); the takeover ends the first connection abnormally.
        var first = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "acl-will", b => b.WithWillTopic("plant/will").WithWillPayload("gone"));
        await using var second = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "acl-will");
        await first.Disconnected.Within();
        first.Client.Dispose();
        await broker.Log.WaitForAsync("Will of acl-will on 'plant/will' not published: not authorized.");

        // Alice's will on the same topic goes out: the watcher was listening all along.
        var aliceFirst = await Alice(broker, MqttProtocolVersion.V500, "acl-will-alice", b => b.WithWillTopic("plant/will").WithWillPayload("alice gone"));
        await using var aliceSecond = await Alice(broker, MqttProtocolVersion.V500, "acl-will-alice");
        await aliceFirst.Disconnected.Within();
        aliceFirst.Client.Dispose();
        Assert.Equal("alice gone", (await watcher.ReceiveAsync()).Text);
        watcher.AssertNothingPending();
    }

    [Fact]
    public async Task Without_an_acl_file_everything_is_allowed()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "acl-none");
        await client.SubscribeAsync("#");
        Assert.Equal(MqttClientPublishReasonCode.Success, (await client.PublishAsync("plant/secret/x", "x")).ReasonCode);
        Assert.Equal("x", (await client.ReceiveAsync()).Text);
        Assert.Equal(0, broker.Metrics.Dropped(DropCause.NotAuthorized));
    }
}
