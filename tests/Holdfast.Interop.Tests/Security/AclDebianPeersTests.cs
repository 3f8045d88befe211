using Holdfast.Interop.Tests.Infrastructure;
using static Holdfast.Interop.Tests.DebianPeers.Mosquitto;

namespace Holdfast.Interop.Tests.Security;

/// <summary>acl_file against Debian's mosquitto_pub/mosquitto_sub and python3-paho-mqtt: what they report of a refused
/// publish, subscriptions granted as Mosquitto 2 grants them, and a '#' subscriber that gets only what it may read.</summary>
public sealed class AclDebianPeersTests : IDisposable
{
    private readonly AclTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    private const string Rules = """
        topic read plant/#
        topic write plant/in
        user alice
        topic readwrite plant/#
        topic deny plant/secret
        """;

    [SkippableTheory]
    [InlineData("mqttv5")]
    [InlineData("mqttv311")]
    public async Task Mosquitto_sub_on_hash_receives_only_what_it_may_read(string version)
    {
        await using var broker = await TestBroker.StartAsync($"acl_file {_files.WriteAcl(Rules)}");
        string subscriber = Unique("acl-sub");
        await using var sub = await SubscribeAsync(broker, version, subscriber, "-t", "#", "-u", "alice", "-C", "2", "-v");
        string publisher = Unique("acl-pub");
        foreach (var (topic, text) in new[] { ("plant/secret", "no"), ("plant/in", "first"), ("office/x", "no"), ("plant/temp", "second") })
        {
            string user = topic == "plant/in" ? "" : "alice";
            string[] credentials = user.Length > 0 ? ["-u", user] : [];
            var (exit, _, stderr) = await ProcessRunner.RunAsync(DebianTool.Require("mosquitto_pub"),
                ["-h", "127.0.0.1", "-p", broker.Port.ToString(), "-V", version, "-i", publisher, "-q", "1", "-t", topic, "-m", text, .. credentials], PeerTimeout);
            // Refused publishes: MQTT 5 tells the client (0x87), MQTT 3.1.1 cannot.
            bool refused = topic is "plant/secret" or "office/x";
            Assert.True(exit == 0, stderr);
            Assert.Equal(refused && version == "mqttv5", stderr.Contains("Not authorized"));
        }
        Assert.Equal(["plant/in first", "plant/temp second"], await LinesAfterExitAsync(sub));
    }

    private const string PahoScript = """
        import sys, threading
        import paho.mqtt.client as mqtt
        port, proto = int(sys.argv[1]), sys.argv[2]
        v5 = proto == "v5"
        done = threading.Event()
        result = {}
        def on_subscribe(client, userdata, mid, granted, *rest):
            result["codes"] = [g.value if hasattr(g, "value") else g for g in granted]
            done.set()
        c = mqtt.Client(client_id="acl-paho-" + proto, protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
        c.username_pw_set("alice")
        c.on_subscribe = on_subscribe
        c.connect("127.0.0.1", port, keepalive=30)
        c.loop_start()
        c.subscribe([("plant/#", 1), ("office/#", 1), ("plant/secret", 0)])
        if not done.wait(15):
            print("no SUBACK", flush=True)
            sys.exit(1)
        print(" ".join(str(x) for x in result["codes"]), flush=True)
        c.disconnect()
        c.loop_stop()
        """;

    [SkippableTheory]
    [InlineData("v5", "1 1 0")]
    [InlineData("v311", "1 1 0")]
    public async Task Paho_gets_every_filter_granted_as_from_Mosquitto(string protocol, string codes)
    {
        await using var broker = await TestBroker.StartAsync($"acl_file {_files.WriteAcl(Rules)}");
        string python = DebianTool.RequirePaho();
        string script = Path.Combine(_files.Directory, "subscribe.py");
        await File.WriteAllTextAsync(script, PahoScript);
        var (exit, stdout, stderr) = await ProcessRunner.RunAsync(python, [script, broker.Port.ToString(), protocol], TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Equal(codes, stdout.Trim());
    }
}
