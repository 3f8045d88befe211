using Holdfast.Tools.Tests.Infrastructure;
using static Holdfast.Tools.Tests.Clients.ClientTools;

namespace Holdfast.Tools.Tests.Clients;

/// <summary>holdfast pub and holdfast sub against Holdfast and against Debian's Mosquitto, and against Debian's own clients.</summary>
public class PubSubTests
{
    [SkippableTheory]
    [InlineData("holdfast", "mqttv5"), InlineData("holdfast", "mqttv311"), InlineData("mosquitto", "mqttv5"), InlineData("mosquitto", "mqttv311")]
    public async Task Messages_at_every_QoS_arrive_in_order_from_pub_to_sub(string brokerName, string version)
    {
        await using var broker = await BrokerProcess.StartAsync(brokerName);
        string topic = Unique("pubsub");
        await using var sub = await StartSubAsync(broker, "-V", version, "-t", $"{topic}/#", "-q", "2", "-v", "-C", "5");
        await PubAsync(broker, ["-V", version, "-t", $"{topic}/q0", "-m", "zero"]);
        await PubAsync(broker, ["-V", version, "-t", $"{topic}/q1", "-q", "1", "-m", "one"]);
        await PubAsync(broker, ["-V", version, "-t", $"{topic}/q2", "-q", "2", "-l"], stdin: "two-a\ntwo-b\ntwo-c\n");
        var lines = await LinesAfterExitAsync(sub);
        Assert.Equal([$"{topic}/q0 zero", $"{topic}/q1 one", $"{topic}/q2 two-a", $"{topic}/q2 two-b", $"{topic}/q2 two-c"], lines);
    }

    [SkippableTheory]
    [MemberData(nameof(BrokerProcess.Names), MemberType = typeof(BrokerProcess))]
    public async Task Holdfast_pub_reaches_mosquitto_sub_and_mosquitto_pub_reaches_holdfast_sub(string brokerName)
    {
        await using var broker = await BrokerProcess.StartAsync(brokerName);
        string topic = Unique("cross");
        // stdbuf: mosquitto_sub's stdout is block-buffered into a pipe, and its -d lines say when the SUBACK is in.
        await using var mosquittoSub = ProcessRunner.Start("stdbuf", ["-oL", DebianTool.Require("mosquitto_sub"),
            "-p", broker.Port.ToString(), "-h", "127.0.0.1", "-t", $"{topic}/from-holdfast", "-q", "1", "-C", "1", "-W", "30", "-d"]);
        await mosquittoSub.WaitForOutputAsync("received SUBACK", PeerTimeout);
        await using var holdfastSub = await StartSubAsync(broker, "-t", $"{topic}/from-mosquitto", "-q", "2", "-C", "1", "--json");

        string file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, "from a file");
        try { await PubAsync(broker, ["-t", $"{topic}/from-holdfast", "-q", "1", "-f", file]); }
        finally { File.Delete(file); }
        await MosquittoPubAsync(broker, "-t", $"{topic}/from-mosquitto", "-q", "2", "-m", "from mosquitto_pub");

        Assert.Contains("from a file", await LinesAfterExitAsync(mosquittoSub));
        var message = JsonLines(string.Join('\n', await LinesAfterExitAsync(holdfastSub))).Single();
        Assert.Equal("from mosquitto_pub", message.GetProperty("payload").GetString());
        Assert.Equal(2, message.GetProperty("qos").GetInt32());
        Assert.Equal($"{topic}/from-mosquitto", message.GetProperty("topic").GetString());
    }

    [SkippableTheory]
    [MemberData(nameof(BrokerProcess.Names), MemberType = typeof(BrokerProcess))]
    public async Task MQTT5_properties_set_with_D_reach_the_subscriber_and_json_shows_them(string brokerName)
    {
        await using var broker = await BrokerProcess.StartAsync(brokerName);
        string topic = Unique("props");
        await using var sub = await StartSubAsync(broker, "-t", topic, "-q", "1", "-C", "1", "--json");
        await PubAsync(broker, ["-t", topic, "-q", "1", "-m", "{\"t\":21.5}",
            "-D", "publish", "user-property", "site", "plant-7",
            "-D", "publish", "content-type", "application/json",
            "-D", "publish", "response-topic", "replies/1",
            "-D", "publish", "message-expiry-interval", "300"]);
        var message = JsonLines(string.Join('\n', await LinesAfterExitAsync(sub))).Single();
        var properties = message.GetProperty("properties");
        Assert.Equal("application/json", properties.GetProperty("content_type").GetString());
        Assert.Equal("replies/1", properties.GetProperty("response_topic").GetString());
        Assert.InRange(properties.GetProperty("message_expiry_interval").GetUInt32(), 290u, 300u);
        var userProperty = properties.GetProperty("user_properties")[0];
        Assert.Equal("site", userProperty[0].GetString());
        Assert.Equal("plant-7", userProperty[1].GetString());
    }

    [SkippableTheory]
    [MemberData(nameof(BrokerProcess.Names), MemberType = typeof(BrokerProcess))]
    public async Task A_retained_message_is_flagged_and_R_hides_it(string brokerName)
    {
        await using var broker = await BrokerProcess.StartAsync(brokerName);
        string topic = Unique("retained");
        await PubAsync(broker, ["-t", topic, "-q", "1", "-r", "-m", "last known"]);
        await using var sub = await StartSubAsync(broker, "-t", topic, "-C", "1", "--json");
        var message = JsonLines(string.Join('\n', await LinesAfterExitAsync(sub))).Single();
        Assert.True(message.GetProperty("retain").GetBoolean());
        Assert.Equal("last known", message.GetProperty("payload").GetString());

        await using var fresh = await StartSubAsync(broker, "-t", topic, "-R", "-C", "1", "-v");
        await PubAsync(broker, ["-t", topic, "-m", "live"]);
        Assert.Equal([$"{topic} live"], await LinesAfterExitAsync(fresh));
    }

    [SkippableTheory]
    [MemberData(nameof(BrokerProcess.Names), MemberType = typeof(BrokerProcess))]
    public async Task The_will_set_with_will_flags_is_published_when_the_sub_process_dies(string brokerName)
    {
        await using var broker = await BrokerProcess.StartAsync(brokerName);
        string topic = Unique("will");
        await using var watcher = await StartSubAsync(broker, "-t", $"{topic}/status", "-q", "1", "-C", "1", "-v");
        await using (var doomed = await StartSubAsync(broker, "-t", $"{topic}/ignored", "-k", "5",
            "--will-topic", $"{topic}/status", "--will-payload", "line-7 offline", "--will-qos", "1"))
        {
            doomed.Kill();
        }
        Assert.Equal([$"{topic}/status line-7 offline"], await LinesAfterExitAsync(watcher));
    }

    [SkippableTheory]
    [MemberData(nameof(BrokerProcess.Names), MemberType = typeof(BrokerProcess))]
    public async Task W_ends_sub_with_code_27_as_mosquitto_sub_does(string brokerName)
    {
        await using var broker = await BrokerProcess.StartAsync(brokerName);
        var (exit, _, stderr) = await HoldfastCli.RunAsync(["sub", "-p", broker.Port.ToString(), "-t", Unique("quiet"), "-W", "1"]);
        Assert.True(exit == 27, $"exit {exit}: {stderr}");
    }

    [SkippableTheory]
    [MemberData(nameof(BrokerProcess.Names), MemberType = typeof(BrokerProcess))]
    public async Task D_traces_packets_in_mosquitto_style(string brokerName)
    {
        await using var broker = await BrokerProcess.StartAsync(brokerName);
        var (exit, _, stderr) = await HoldfastCli.RunAsync(["pub", "-p", broker.Port.ToString(), "-i", "tracer", "-t", "a/b", "-q", "1", "-m", "hello", "-d"]);
        Assert.Equal(0, exit);
        Assert.Contains("Client tracer sending CONNECT", stderr);
        Assert.Contains("Client tracer received CONNACK (0)", stderr);
        Assert.Contains("Client tracer sending PUBLISH (d0, q1, r0, m1, 'a/b', ... (5 bytes))", stderr);
        // 0x10: no matching subscribers, which MQTT 5 brokers may say and Mosquitto does.
        Assert.Matches(@"Client tracer received PUBACK \(Mid: 1, RC:(0|16)\)", stderr);
        Assert.Contains("Client tracer sending DISCONNECT", stderr);
    }

    [SkippableTheory]
    [MemberData(nameof(BrokerProcess.Names), MemberType = typeof(BrokerProcess))]
    public async Task A_large_QoS_0_message_is_delivered_whole_before_pub_exits(string brokerName)
    {
        // QoS 0 has no acknowledgement to wait for: pub's clean exit must still let every byte reach the broker (a reset
        // at close would drop what the kernel had not sent yet).
        await using var broker = await BrokerProcess.StartAsync(brokerName);
        string topic = Unique("large");
        await using var sub = await StartSubAsync(broker, "-t", topic, "-C", "1", "--json");
        string file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, new string('x', 3 * 1024 * 1024));
        try { await PubAsync(broker, ["-t", topic, "-f", file]); }
        finally { File.Delete(file); }
        var message = JsonLines(string.Join('\n', await LinesAfterExitAsync(sub))).Single();
        Assert.Equal(3 * 1024 * 1024, message.GetProperty("payload_length").GetInt32());
    }
}
