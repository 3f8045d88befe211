using Holdfast.Interop.Tests.DebianPeers;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using static Holdfast.Interop.Tests.DebianPeers.Mosquitto;

namespace Holdfast.Interop.Tests.Overload;

/// <summary>
/// One dead persistent session must never stop the living (queue_full_policy), with Debian's mosquitto clients: a
/// subscriber that went away with a session on f/#, a live subscriber on f/# and a publisher, on a durable broker.
/// </summary>
public sealed class DeadSessionTests : IDisposable
{
    private readonly TempDirectory _data = new();

    public void Dispose() => _data.Dispose();

    private Task<TestBroker> StartAsync(string extra) =>
        TestBroker.StartAsync($"persistence true\npersistence_location {_data.Path}\n{extra}");

    /// <summary>mosquitto_sub with a persistent session (-c) on f/#, killed once subscribed: a dead client.</summary>
    private static async Task LeaveDeadSessionAsync(TestBroker broker, string version, string clientId)
    {
        await using (await SubscribeAsync(broker, version, clientId, "-c", "-q", "1", "-t", "f/#")) { }
        await broker.Log.WaitForAsync($"Client {clientId} closed its connection");
    }

    private static string Lines(int from, int count) => string.Concat(Enumerable.Range(from, count).Select(i => $"m{i}\n"));

    /// <summary>The issue's scenario: 100,000 publishes past a dead session whose queue holds 1,000 (Mosquitto's default).</summary>
    [SkippableTheory]
    [InlineData("mqttv311")]
    [InlineData("mqttv5")]
    public async Task A_dead_session_never_stops_the_publisher_or_the_live_subscriber(string version)
    {
        const int count = 100_000;
        await using var broker = await StartAsync("max_queued_messages 1000\ndurability os");
        string dead = Unique("dead1"), live = Unique("live"), pub = Unique("pub");
        await LeaveDeadSessionAsync(broker, version, dead);
        await using var liveSub = await SubscribeAsync(broker, version, live, "-q", "1", "-t", "f/#", "-C", count.ToString(), "-W", "120");

        // MQTTnet publishes one message after the other, each acknowledged before the next. The live subscriber may still
        // fall behind and hold the publisher back (its own queue is bounded too): an MQTT 5 publisher refused with 0x97
        // waits until the subscriber has caught up and sends again, as a client should.
        await using (var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version == "mqttv5" ? MqttProtocolVersion.V500 : MqttProtocolVersion.V311, pub))
            for (int i = 1; i <= count; i++)
            {
                MqttClientPublishResult result;
                while (!(result = await publisher.Client.PublishStringAsync("f/x", $"m{i}", MqttQualityOfServiceLevel.AtLeastOnce)).IsSuccess)
                {
                    Assert.Equal(MqttClientPublishReasonCode.QuotaExceeded, result.ReasonCode);
                    await liveSub.WaitForOutputAsync($"\nm{i - 1}\n", PeerTimeout);
                }
            }

        bool done = await liveSub.WaitForExitAsync(TimeSpan.FromSeconds(120));
        var received = Mosquitto.Lines(liveSub.Stdout);
        Assert.True(done && received.Length == count, $"the live subscriber got {received.Length} of {count} (last: {received.LastOrDefault()}); "
            + "broker lines:\n" + string.Join('\n', broker.Log.Lines.Where(l => l.Contains("queue", StringComparison.Ordinal) || l.Contains("Dropped", StringComparison.Ordinal)).Take(20)));
        Assert.True(received.Select((line, i) => line == $"m{i + 1}").All(x => x), "the live subscriber got the messages out of order");
        // Never held back for the dead session: whatever refusal or hold there was named the live subscriber.
        Assert.DoesNotContain(broker.Log.Lines, l => l.Contains($"the queue of client {dead}", StringComparison.Ordinal));
        // The dead session ended with the documented line naming it, and its client finds no session on return.
        await broker.Log.WaitForAsync($"Ending the session of {dead}: its queue is full (offline for ");
        Assert.Equal(1, broker.Metrics.SessionsEndedQueueFull);
        Assert.Equal(1000, broker.Metrics.Dropped(Broker.DropCause.SessionEndedQueueFull));
        await using (await SubscribeAsync(broker, version, dead, "-c", "-q", "1", "-t", "f/#")) { }
        Assert.Contains($"Sending CONNACK to {dead} (0, 0)", broker.Log.Lines);
    }

    private const string Bound = "max_queued_messages 5\nmax_inflight_messages 5";

    [SkippableTheory]
    [InlineData("mqttv311")]
    [InlineData("mqttv5")]
    public async Task End_session_ends_the_dead_session_at_its_bound(string version)
    {
        await using var broker = await StartAsync(Bound);
        string dead = Unique("dead"), pub = Unique("pub");
        await LeaveDeadSessionAsync(broker, version, dead);
        await PublishAsync(broker.Port, version, pub, ["-q", "1", "-t", "f/x", "-l"], Lines(1, 10));

        await broker.Log.WaitForAsync($"Ending the session of {dead}: its queue is full");
        await using (await SubscribeAsync(broker, version, dead, "-c", "-q", "1", "-t", "f/#")) { }
        Assert.Contains($"Sending CONNACK to {dead} (0, 0)", broker.Log.Lines);
    }

    [SkippableTheory]
    [InlineData("mqttv311")]
    [InlineData("mqttv5")]
    public async Task Block_holds_the_publisher_until_the_dead_session_returns(string version)
    {
        await using var broker = await StartAsync($"{Bound}\nqueue_full_policy block");
        string dead = Unique("dead"), pub = Unique("pub");
        await LeaveDeadSessionAsync(broker, version, dead);
        var publisher = ProcessRunner.Start(DebianTool.Require("mosquitto_pub"),
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(), "-V", version, "-i", pub, "-q", "1", "-t", "f/x", "-l"], Lines(1, 10));
        await using var _ = publisher;

        // The sixth message finds the queue full: MQTT 5 refuses it with 0x97, 3.1.1 is held back; the line names the session.
        string fragment = version == "mqttv5" ? $"with 0x97: the queue of client {dead} is full (offline for " : $"held back on 'f/x': the queue of client {dead} is full (offline for ";
        await broker.Log.WaitForAsync(fragment);
        if (version == "mqttv311") Assert.False(publisher.HasExited);

        // The dead session returns and takes what was queued for it: the held publisher goes on.
        await using var back = await SubscribeAsync(broker, version, dead, "-c", "-q", "1", "-t", "f/#", "-C", version == "mqttv5" ? "5" : "10");
        var got = await LinesAfterExitAsync(back);
        Assert.Equal(version == "mqttv5" ? ["m1", "m2", "m3", "m4", "m5"] : Enumerable.Range(1, 10).Select(i => $"m{i}").ToArray(), got);
        Assert.True(await publisher.WaitForExitAsync(PeerTimeout), "the held-back publisher never finished");
        Assert.Equal(0, broker.Metrics.SessionsEndedQueueFull);
    }

    [SkippableTheory]
    [InlineData("drop_new", "mqttv311")]
    [InlineData("drop_new", "mqttv5")]
    [InlineData("drop_oldest", "mqttv311")]
    [InlineData("drop_oldest", "mqttv5")]
    public async Task Drop_policies_keep_the_session_and_count_what_they_drop(string policy, string version)
    {
        await using var broker = await StartAsync($"{Bound}\nqueue_full_policy {policy}");
        string dead = Unique("dead"), pub = Unique("pub");
        await LeaveDeadSessionAsync(broker, version, dead);
        await PublishAsync(broker.Port, version, pub, ["-q", "1", "-t", "f/x", "-l"], Lines(1, 10));

        await broker.Log.WaitForAsync($"for client {dead}: queue full (offline for ");
        Assert.Equal(5, broker.Metrics.Dropped(Broker.DropCause.QueueFull));
        await using var back = await SubscribeAsync(broker, version, dead, "-c", "-q", "1", "-t", "f/#", "-C", "5");
        string[] expected = policy == "drop_new" ? ["m1", "m2", "m3", "m4", "m5"] : ["m6", "m7", "m8", "m9", "m10"];
        Assert.Equal(expected, await LinesAfterExitAsync(back));
        Assert.Contains($"Sending CONNACK to {dead} (1, 0)", broker.Log.Lines);
    }
}
