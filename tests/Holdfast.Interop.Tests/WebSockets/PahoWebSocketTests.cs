using Holdfast.Interop.Tests.Infrastructure;
using static Holdfast.Interop.Tests.DebianPeers.Mosquitto;

namespace Holdfast.Interop.Tests.WebSockets;

/// <summary>Debian's python3-paho-mqtt over WebSockets (transport="websockets", path /mqtt), plain and over TLS (wss),
/// against a Holdfast websockets listener.</summary>
public sealed class PahoWebSocketTests
{
    private const string Script = """
        import sys, queue, threading, traceback
        import paho.mqtt.client as mqtt

        port, prefix, version, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
        PROTO = mqtt.MQTTv5 if version == "v5" else mqtt.MQTTv311
        TIMEOUT = 15

        def out(*parts):
            print(" ".join(str(p) for p in parts), flush=True)

        def connect(cid, on_message=None):
            connected, subscribed = threading.Event(), threading.Event()
            c = mqtt.Client(client_id=cid, protocol=PROTO, transport="websockets")
            c.ws_set_options(path="/mqtt")
            if ca != "-":
                c.tls_set(ca_certs=ca)
            c.on_connect = lambda *a: connected.set()
            c.on_subscribe = lambda *a: subscribed.set()
            if on_message:
                c.on_message = on_message
            c.connect("127.0.0.1", port, keepalive=30)
            c.loop_start()
            if not connected.wait(TIMEOUT):
                raise RuntimeError(cid + ": no CONNACK")
            return c, subscribed

        try:
            messages = queue.Queue()
            sub, subscribed = connect(prefix + "-sub", lambda c, u, m: messages.put(m))
            sub.subscribe(prefix + "/t", 1)
            if not subscribed.wait(TIMEOUT):
                raise RuntimeError("no SUBACK")
            pub, _ = connect(prefix + "-pub")
            # The large one spans many pipe segments on the way out: several frames of one message.
            payloads = [b"first", b"x" * 200000, b"last"]
            for p in payloads:
                info = pub.publish(prefix + "/t", p, qos=1)
                info.wait_for_publish(TIMEOUT)
                out("puback", info.is_published())
            for _ in payloads:
                m = messages.get(timeout=TIMEOUT)
                out("received", m.qos, len(m.payload), m.payload[:5].decode())
            pub.disconnect()
            sub.disconnect()
            pub.loop_stop()
            sub.loop_stop()
            out("done")
        except Exception:
            traceback.print_exc()
            sys.exit(1)
        """;

    private static async Task<string[]> RunPahoAsync(TestBroker broker, string prefix, string version, string caFile)
    {
        string python = DebianTool.RequirePaho();
        string path = Path.Combine(Path.GetTempPath(), $"holdfast-paho-ws-{Guid.NewGuid():N}.py");
        await File.WriteAllTextAsync(path, Script);
        try
        {
            var (exit, stdout, stderr) = await ProcessRunner.RunAsync(python, [path, broker.Port.ToString(), prefix, version, caFile], TimeSpan.FromSeconds(60));
            Assert.True(exit == 0, $"paho exited {exit}.\nstdout:\n{stdout}\nstderr:\n{stderr}\nbroker:\n{string.Join("\n", broker.Log.Lines.TakeLast(30))}");
            var lines = Lines(stdout);
            Assert.Equal("done", lines[^1]);
            return lines[..^1];
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static async Task AssertQos1BothWaysAsync(TestBroker broker, string version, string caFile)
    {
        string prefix = Unique("pws");
        var lines = await RunPahoAsync(broker, prefix, version, caFile);
        Assert.Equal(["puback True", "puback True", "puback True", "received 1 5 first", "received 1 200000 xxxxx", "received 1 4 last"], lines);
        // The subscriber acknowledged its deliveries over the WebSocket too.
        await broker.Log.WaitForAsync($"Received PUBACK from {prefix}-sub (Mid: 3, RC:0)");
        Assert.Contains(broker.Log.Lines, l => l.StartsWith($"New client connected from 127.0.0.1:", StringComparison.Ordinal) && l.Contains($" as {prefix}-sub "));
    }

    [SkippableTheory]
    [InlineData("v311")]
    [InlineData("v5")]
    public async Task QoS_1_both_ways_over_ws(string version)
    {
        await using var broker = await TestBroker.StartAsync(listenerText: "protocol websockets");
        await AssertQos1BothWaysAsync(broker, version, "-");
    }

    [SkippableFact]
    public async Task QoS_1_both_ways_over_wss()
    {
        using var certificates = new TestCertificates();
        await using var broker = await TestBroker.StartAsync(listenerText:
            $"protocol websockets\ncertfile {certificates.ServerCertFile}\nkeyfile {certificates.ServerKeyFile}");
        await AssertQos1BothWaysAsync(broker, "v311", certificates.CaFile);
    }
}
