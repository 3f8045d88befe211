using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using Holdfast.Server;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using static Holdfast.Interop.Tests.DebianPeers.Mosquitto;

namespace Holdfast.Interop.Tests.Observability;

/// <summary>The $SYS tree (sys_interval) as Mosquitto's users read it: mosquitto_sub and MQTTnet subscribers.</summary>
public sealed class SysTopicsTests
{
    [SkippableFact]
    public async Task Mosquitto_sub_on_SYS_sees_version_uptime_and_client_numbers_that_follow_traffic()
    {
        await using var broker = await TestBroker.StartAsync("sys_interval 1");
        string subId = Unique("sys");
        await using var sub = await SubscribeAsync(broker, "mqttv311", subId, "-t", "$SYS/#", "-v");

        await UntilLineAsync(sub, $"$SYS/broker/version holdfast version {HoldfastServer.Version}");
        // The subscriber itself is the one client.
        await UntilLineAsync(sub, "$SYS/broker/clients/connected 1");

        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V311, Unique("pub"));
        for (int i = 0; i < 3; i++) await publisher.PublishAsync("plant/temp", $"t{i}", MqttQualityOfServiceLevel.AtLeastOnce);

        await UntilLineAsync(sub, "$SYS/broker/clients/connected 2");
        await UntilLineAsync(sub, "$SYS/broker/clients/total 2");
        await UntilLineAsync(sub, "$SYS/broker/publish/messages/received 3");
        await UntilLineAsync(sub, "$SYS/broker/publish/bytes/received 6");

        var lines = Lines(sub.Stdout);
        var uptimes = lines.Where(l => l.StartsWith("$SYS/broker/uptime ", StringComparison.Ordinal))
            .Select(l => long.Parse(l.Split(' ')[1])).ToList();
        Assert.True(uptimes.Count >= 2, $"uptime published once only:\n{sub.Stdout}");
        Assert.Equal(uptimes.Order(), uptimes);
        Assert.All(lines.Where(l => l.StartsWith("$SYS/broker/uptime ", StringComparison.Ordinal)), l => Assert.EndsWith(" seconds", l));
        // bytes/received counts the wire: more than the payloads (CONNECT, SUBSCRIBE, headers).
        var bytes = lines.Where(l => l.StartsWith("$SYS/broker/bytes/received ", StringComparison.Ordinal)).Select(l => long.Parse(l.Split(' ')[1])).ToList();
        Assert.True(bytes.Count > 0 && bytes[^1] > 6, $"bytes/received: {string.Join(", ", bytes)}");
        Assert.Contains(lines, l => l.StartsWith("$SYS/broker/load/publish/received/1min ", StringComparison.Ordinal));
        // The $SYS messages mosquitto_sub received are the broker's own, not client traffic; nobody subscribed to plant/temp.
        Assert.Equal("$SYS/broker/publish/messages/sent 0", lines.Last(l => l.StartsWith("$SYS/broker/publish/messages/sent ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_hash_subscriber_gets_no_SYS_messages_while_a_SYS_subscriber_does()
    {
        await using var broker = await TestBroker.StartAsync("sys_interval 1");
        await using var all = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, Unique("all"));
        await all.SubscribeAsync("#", MqttQualityOfServiceLevel.AtMostOnce);
        await using var sys = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, Unique("sys"));
        await sys.SubscribeAsync("$SYS/#", MqttQualityOfServiceLevel.AtMostOnce);

        await all.PublishAsync("site/a", "x", MqttQualityOfServiceLevel.AtMostOnce);
        // Two uptime updates after both subscribed: whole rounds of $SYS went out while `#` was subscribed.
        await Waits.UntilAsync(() => sys.All.Count(m => m.Topic == "$SYS/broker/uptime" && !m.Retain) >= 2, "two live uptime updates");
        await Waits.UntilAsync(() => all.All.Any(m => m.Topic == "site/a"), "the `#` subscriber's own message");

        Assert.DoesNotContain(all.All, m => m.Topic.StartsWith('$'));
        Assert.All(sys.All, m => Assert.StartsWith("$SYS/broker/", m.Topic));
    }

    [Fact]
    public async Task Topics_are_retained_and_published_again_only_when_their_value_changed()
    {
        await using var broker = await TestBroker.StartAsync("sys_interval 1");
        await using var sys = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V311, Unique("sys"));
        await sys.SubscribeAsync("$SYS/#", MqttQualityOfServiceLevel.AtMostOnce);

        await Waits.UntilAsync(() => sys.All.Count(m => m.Topic == "$SYS/broker/uptime") >= 4, "four uptime updates");
        var received = sys.All;

        // What the subscriber got on subscribing: the retained tree, version once.
        var version = Assert.Single(received, m => m.Topic == "$SYS/broker/version");
        Assert.True(version.Retain);
        Assert.Equal($"holdfast version {HoldfastServer.Version}", version.Text);

        // From the second live uptime on nothing about the clients changed: no update of those topics, while uptime
        // (a new value each round) kept coming.
        int secondLive = IndexOfNth(received, m => m.Topic == "$SYS/broker/uptime" && !m.Retain, 2);
        var later = received.Skip(secondLive).ToList();
        Assert.True(later.Count(m => m.Topic == "$SYS/broker/uptime") >= 2);
        foreach (var steady in new[] { "version", "clients/connected", "clients/total", "subscriptions/count", "holdfast/dropped/queue_full" })
            Assert.DoesNotContain(later, m => m.Topic == "$SYS/broker/" + steady);
        Assert.Equal("1", received.Last(m => m.Topic == "$SYS/broker/clients/connected").Text);
    }

    [Fact]
    public async Task Sys_interval_0_publishes_nothing()
    {
        await using var broker = await TestBroker.StartAsync("sys_interval 0");
        await using var sys = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, Unique("sys"));
        await sys.SubscribeAsync("$SYS/#", MqttQualityOfServiceLevel.AtMostOnce);
        await sys.SubscribeAsync("control/x", MqttQualityOfServiceLevel.AtMostOnce);

        // Positive control: the subscriber's pipe works.
        await sys.PublishAsync("control/x", "ping", MqttQualityOfServiceLevel.AtMostOnce);
        Assert.Equal("control/x", (await sys.ReceiveAsync()).Topic);

        await sys.AssertNothingReceivedAsync(TimeSpan.FromSeconds(2));
        Assert.Equal(0, broker.Status().RetainedMessages);
    }

    [Fact]
    public async Task A_drop_moves_its_cause_topic_and_counter()
    {
        var config = "sys_interval 1\nmax_queued_messages 1\nqueue_full_policy drop_new\n";
        await using var broker = await TestBroker.StartAsync(config, adjust: c => c.MetricsListener = new() { Port = 0 });
        string subscriberId = Unique("away");
        await using (var away = await MqttNetPeer.ConnectPersistentAsync(broker.Port, MqttProtocolVersion.V500, subscriberId))
        {
            await away.SubscribeAsync("line/x", MqttQualityOfServiceLevel.AtLeastOnce);
            await away.DisconnectAsync();
        }
        await using var sys = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, Unique("sys"));
        await sys.SubscribeAsync("$SYS/broker/holdfast/dropped/queue_full", MqttQualityOfServiceLevel.AtMostOnce);
        Assert.Equal("0", (await sys.ReceiveAsync()).Text);
        Assert.True(sys.All[0].Retain);

        // The offline session's queue holds one message: the second and third are dropped (drop_new), counted.
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, Unique("pub"));
        for (int i = 0; i < 3; i++) await publisher.PublishAsync("line/x", $"m{i}", MqttQualityOfServiceLevel.AtLeastOnce);
        await broker.Log.WaitForAsync($"for client {subscriberId}: queue full (");

        await Waits.UntilAsync(() => sys.All.Any(m => m.Text == "2"), "dropped/queue_full 2");
        // Each round publishes the count of its moment: it only ever grows, and each value once.
        var values = sys.All.Select(m => int.Parse(m.Text)).ToList();
        Assert.Equal(values.Distinct().Order(), values);
        var metrics = await MetricsScrape.GetAsync(broker.Server);
        Assert.Equal(2, metrics.Value("holdfast_messages_dropped_total{cause=\"queue_full\"}"));
        Assert.Equal(0, metrics.Value("holdfast_messages_dropped_total{cause=\"expired\"}"));
    }

    [Fact]
    public async Task The_deepest_queues_are_named_in_sys_and_metrics()
    {
        await using var broker = await TestBroker.StartAsync("sys_interval 1", adjust: c => c.MetricsListener = new() { Port = 0 });
        string deep = Unique("deep"), shallow = Unique("shallow");
        foreach (var id in new[] { deep, shallow })
            await using (var away = await MqttNetPeer.ConnectPersistentAsync(broker.Port, MqttProtocolVersion.V500, id))
            {
                await away.SubscribeAsync(id == deep ? "line/#" : "line/x", MqttQualityOfServiceLevel.AtLeastOnce);
                await away.DisconnectAsync();
            }
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, Unique("pub"));
        for (int i = 0; i < 3; i++) await publisher.PublishAsync("line/y", $"y{i}", MqttQualityOfServiceLevel.AtLeastOnce);
        await publisher.PublishAsync("line/x", "x", MqttQualityOfServiceLevel.AtLeastOnce);

        await using var sys = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, Unique("sys"));
        await sys.SubscribeAsync("$SYS/broker/holdfast/sessions/top_queued", MqttQualityOfServiceLevel.AtMostOnce);
        await Waits.UntilAsync(() => sys.All.Any(m => m.Text.Contains(shallow, StringComparison.Ordinal)), "both sessions in top_queued");
        using var top = System.Text.Json.JsonDocument.Parse(sys.All.Last(m => m.Text.Contains(shallow, StringComparison.Ordinal)).Text);
        var list = top.RootElement.EnumerateArray().ToList();
        Assert.Equal([deep, shallow], list.Select(e => e.GetProperty("client_id").GetString()));
        Assert.Equal([4, 1], list.Select(e => e.GetProperty("queued").GetInt32()));
        Assert.False(list[0].GetProperty("connected").GetBoolean());

        var metrics = await MetricsScrape.GetAsync(broker.Server);
        Assert.Equal(4, metrics.Value($"holdfast_session_queued_messages{{client_id=\"{deep}\",state=\"offline\"}}"));
        Assert.Equal(1, metrics.Value($"holdfast_session_queued_messages{{client_id=\"{shallow}\",state=\"offline\"}}"));
    }

    [Fact]
    public async Task A_stuck_subscriber_shows_in_the_ack_timeout_topics_until_it_acknowledges()
    {
        await using var broker = await TestBroker.StartAsync("sys_interval 1", listenerText: "ack_timeout 1\nack_timeout_action log",
            adjust: c => c.MetricsListener = new() { Port = 0 });
        await using var sys = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, Unique("sys"));
        await sys.SubscribeAsync("$SYS/broker/holdfast/#", MqttQualityOfServiceLevel.AtMostOnce);
        await using var stuck = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, Unique("stuck"), manualAck: true);
        await stuck.SubscribeAsync("cmd/x", MqttQualityOfServiceLevel.AtLeastOnce);
        await using var pub = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, Unique("pub"));
        await pub.PublishAsync("cmd/x", "go", MqttQualityOfServiceLevel.AtLeastOnce);
        var held = await stuck.ReceiveAsync();

        await broker.Log.WaitForAsync($"Client {stuck.ClientId} has not acknowledged message");
        await Waits.UntilAsync(() => Last(sys, "ack_timeouts") == "1" && Last(sys, "clients/past_ack_timeout") == "1", "the stuck client in $SYS");
        var metrics = await MetricsScrape.GetAsync(broker.Server);
        Assert.Equal(1, metrics.Value("holdfast_ack_timeouts_total"));

        await held.AckAsync();
        await Waits.UntilAsync(() => Last(sys, "clients/past_ack_timeout") == "0", "past_ack_timeout back to 0 after the PUBACK");
        Assert.Equal("1", Last(sys, "ack_timeouts"));
    }

    private static string? Last(MqttNetPeer sys, string holdfastTopic) =>
        sys.All.LastOrDefault(m => m.Topic == "$SYS/broker/holdfast/" + holdfastTopic)?.Text;

    private static int IndexOfNth(IReadOnlyList<ReceivedMessage> messages, Func<ReceivedMessage, bool> match, int n)
    {
        for (int i = 0, seen = 0; i < messages.Count; i++)
            if (match(messages[i]) && ++seen == n) return i;
        throw new InvalidOperationException($"fewer than {n} matching messages");
    }

    private static Task UntilLineAsync(ProcessRunner sub, string line) =>
        Waits.UntilAsync(() => Lines(sub.Stdout).Contains(line), $"'{line}' from mosquitto_sub; got:\n{sub.Stdout}");
}
