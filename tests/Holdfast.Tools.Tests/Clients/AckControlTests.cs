using Holdfast.Tools.Tests.Infrastructure;
using static Holdfast.Tools.Tests.Clients.ClientTools;

namespace Holdfast.Tools.Tests.Clients;

/// <summary>sub --no-ack, --manual-ack and --ack-delay: the stuck and slow subscribers from the field, against both brokers.
/// With max_inflight_messages 1 one withheld acknowledgement holds every later message back.</summary>
public class AckControlTests
{
    private const string OneInflight = "max_inflight_messages 1";

    [SkippableTheory]
    [MemberData(nameof(BrokerProcess.Names), MemberType = typeof(BrokerProcess))]
    public async Task Manual_ack_releases_the_next_message_only_when_Enter_is_pressed(string brokerName)
    {
        await using var broker = await BrokerProcess.StartAsync(brokerName, OneInflight);
        string topic = Unique("manual");
        await using var sub = await StartSubWithInputAsync(broker, "-t", topic, "-q", "1", "-i", Unique("line"), "-c", "--manual-ack", "--json");
        await PubAsync(broker, ["-t", topic, "-q", "1", "-l"], stdin: "first\nsecond\n");
        await WaitForLinesAsync(sub, 1);
        // The broker has acknowledged both publishes, and a third one after them: had it sent "second" past the
        // unacknowledged "first", it would have arrived by now on this connection.
        await PubAsync(broker, ["-t", Unique("other"), "-q", "1", "-m", "flush"]);
        await sub.WaitForOutputAsync("not acknowledged: press Enter", PeerTimeout);
        Assert.Single(Lines(sub.Stdout));

        await sub.WriteInputLineAsync("");
        var lines = await WaitForLinesAsync(sub, 2);
        Assert.Equal(["first", "second"], JsonLines(string.Join('\n', lines)).Select(m => m.GetProperty("payload").GetString()));
        Assert.Contains("Acknowledged m", sub.Stderr);
    }

    [SkippableTheory]
    [InlineData("holdfast", "1"), InlineData("holdfast", "2"), InlineData("mosquitto", "1"), InlineData("mosquitto", "2")]
    public async Task A_message_never_acknowledged_is_redelivered_with_DUP_to_the_next_connection_of_the_session(string brokerName, string qos)
    {
        await using var broker = await BrokerProcess.StartAsync(brokerName, OneInflight);
        string topic = Unique("stuck"), id = Unique("stuck");
        await using (var stuck = await StartSubAsync(broker, "-t", topic, "-q", qos, "-i", id, "-c", "--no-ack", "-C", "1", "--json"))
        {
            await PubAsync(broker, ["-t", topic, "-q", qos, "-m", "needs an ack"]);
            var first = JsonLines(string.Join('\n', await LinesAfterExitAsync(stuck))).Single();
            Assert.False(first.GetProperty("dup").GetBoolean());
        }
        // Same session, acknowledging this time: the broker resends the unacknowledged message first, marked DUP.
        var (exit, stdout, stderr) = await HoldfastCli.RunAsync(["sub", "-p", broker.Port.ToString(), "-t", topic, "-q", qos, "-i", id, "-c",
            "-C", "1", "-W", "30", "--json"]);
        Assert.True(exit == 0, $"exit {exit}: {stderr}");
        var again = JsonLines(stdout).Single();
        Assert.Equal("needs an ack", again.GetProperty("payload").GetString());
        Assert.True(again.GetProperty("dup").GetBoolean());
    }

    [SkippableTheory]
    [MemberData(nameof(BrokerProcess.Names), MemberType = typeof(BrokerProcess))]
    public async Task Ack_delay_slows_the_subscriber_but_every_message_arrives_in_order(string brokerName)
    {
        await using var broker = await BrokerProcess.StartAsync(brokerName, OneInflight);
        string topic = Unique("slow");
        await using var sub = await StartSubAsync(broker, "-t", topic, "-q", "2", "--ack-delay", "0.2", "-C", "5");
        await PubAsync(broker, ["-t", topic, "-q", "2", "-l"], stdin: "1\n2\n3\n4\n5\n");
        Assert.Equal(["1", "2", "3", "4", "5"], await LinesAfterExitAsync(sub));
    }

    [SkippableTheory]
    [MemberData(nameof(BrokerProcess.Names), MemberType = typeof(BrokerProcess))]
    public async Task Delayed_acknowledgements_go_out_in_the_order_the_messages_came(string brokerName)
    {
        // The broker's default window lets many messages wait for their delayed PUBACK at once.
        await using var broker = await BrokerProcess.StartAsync(brokerName);
        string topic = Unique("order");
        await using var sub = await StartSubAsync(broker, "-t", topic, "-q", "1", "--ack-delay", "0.3", "-C", "30");
        await PubAsync(broker, ["-t", topic, "-q", "1", "-l"], stdin: string.Concat(Enumerable.Range(1, 30).Select(i => $"{i}\n")));
        await LinesAfterExitAsync(sub);

        var trace = Lines(sub.Stderr);
        var received = trace.Where(l => l.Contains("received PUBLISH")).Select(l => MessageId(l, "m")).ToArray();
        var acknowledged = trace.Where(l => l.Contains("sending PUBACK")).Select(l => MessageId(l, "Mid: ")).ToArray();
        Assert.Equal(30, received.Length);
        Assert.Equal(received, acknowledged);
    }

    private static int MessageId(string traceLine, string marker)
    {
        var match = System.Text.RegularExpressions.Regex.Match(traceLine, (marker == "m" ? @"\bm" : "Mid: ") + @"(\d+)");
        Assert.True(match.Success, traceLine);
        return int.Parse(match.Groups[1].Value);
    }

    /// <summary>The walk-through in docs/tools.md ("Reproducing the stuck subscriber from the field"): Holdfast's
    /// ack_timeout disconnects the stuck subscriber, it reconnects to its session, the unacknowledged message comes again
    /// first (DUP), and Enter lets the next one through.</summary>
    [Fact]
    public async Task The_stuck_subscriber_walk_through_in_docs_tools_plays_out_against_Holdfast()
    {
        await using var broker = await BrokerProcess.StartHoldfastAsync($"{OneInflight}\nack_timeout 1\nack_timeout_action disconnect");
        string topic = Unique("plant"), id = Unique("line-7");
        await using var sub = await StartSubWithInputAsync(broker, "-t", $"{topic}/#", "-q", "1", "-c", "-i", id, "--manual-ack", "--json");
        await PubAsync(broker, ["-t", $"{topic}/temp", "-q", "1", "-l"], stdin: "reading 1\nreading 2\n");

        await sub.WaitForOutputAsync("Reconnected; session present", PeerTimeout);
        var lines = JsonLines(string.Join('\n', await WaitForLinesAsync(sub, 2)));
        Assert.Equal(["reading 1", "reading 1"], lines.Take(2).Select(m => m.GetProperty("payload").GetString()));
        Assert.False(lines[0].GetProperty("dup").GetBoolean());
        Assert.True(lines[1].GetProperty("dup").GetBoolean());
        Assert.Contains($"Client {id} has not acknowledged message m1", broker.Log);

        // Enter for each prompt until "reading 2" comes: on a loaded machine the ack timeout may strike once more first.
        int answered = 0;
        var deadline = DateTime.UtcNow + PeerTimeout;
        while (!sub.Stdout.Contains("reading 2"))
        {
            Assert.True(DateTime.UtcNow < deadline, $"reading 2 never came. stdout:\n{sub.Stdout}\nstderr:\n{sub.Stderr}");
            int prompts = System.Text.RegularExpressions.Regex.Count(sub.Stderr, "press Enter");
            if (prompts > answered) { answered = prompts; await sub.WriteInputLineAsync(""); }
            await Task.Delay(50);
        }
        lines = JsonLines(sub.Stdout);
        Assert.Equal("reading 2", lines[^1].GetProperty("payload").GetString());
        Assert.All(lines[..^1], m => Assert.Equal("reading 1", m.GetProperty("payload").GetString()));
    }
}
