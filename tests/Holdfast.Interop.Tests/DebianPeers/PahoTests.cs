using Holdfast.Interop.Tests.Infrastructure;
using static Holdfast.Interop.Tests.DebianPeers.Mosquitto;

namespace Holdfast.Interop.Tests.DebianPeers;

/// <summary>
/// Debian's python3-paho-mqtt (1.6.x, Eclipse's client, written by nobody here) against an in-process Holdfast.
/// The script prints one line per observation; the assertions are made here, on its stdout.
/// </summary>
public sealed class PahoTests
{
    private const string Script = """
        import sys, queue, threading, traceback
        import paho.mqtt.client as mqtt
        from paho.mqtt.properties import Properties
        from paho.mqtt.packettypes import PacketTypes

        mode, port, prefix, proto_name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
        V5 = proto_name == "v5"
        PROTO = mqtt.MQTTv5 if V5 else mqtt.MQTTv311
        TIMEOUT = 15

        def out(*parts):
            print(" ".join(str(p) for p in parts), flush=True)

        class Peer:
            def __init__(self, cid, clean=True, session_expiry=None):
                self.cid = cid
                self.messages = queue.Queue()
                self.connected = threading.Event()
                self.subscribed = threading.Event()
                self.flags = None
                self.rc = None
                self.granted = None
                kwargs = {} if V5 else {"clean_session": clean}
                self.c = mqtt.Client(client_id=cid, protocol=PROTO, **kwargs)
                self.c.on_connect = self.on_connect
                self.c.on_message = lambda c, u, m: self.messages.put(m)
                self.c.on_subscribe = self.on_subscribe
                if V5:
                    props = None
                    if session_expiry is not None:
                        props = Properties(PacketTypes.CONNECT)
                        props.SessionExpiryInterval = session_expiry
                    self.c.connect("127.0.0.1", port, keepalive=30, clean_start=clean, properties=props)
                else:
                    self.c.connect("127.0.0.1", port, keepalive=30)
                self.c.loop_start()
                if not self.connected.wait(TIMEOUT):
                    raise RuntimeError(cid + ": no CONNACK")

            def on_connect(self, c, u, flags, rc, properties=None):
                self.flags, self.rc = flags, rc
                self.assigned = getattr(properties, "AssignedClientIdentifier", None) if properties else None
                self.connected.set()

            def on_subscribe(self, c, u, mid, granted, properties=None):
                self.granted = granted
                self.subscribed.set()

            def subscribe(self, topic, qos, sub_id=None):
                self.subscribed.clear()
                props = None
                if sub_id is not None:
                    props = Properties(PacketTypes.SUBSCRIBE)
                    props.SubscriptionIdentifier = sub_id
                if V5:
                    self.c.subscribe(topic, options=mqtt.SubscribeOptions(qos=qos), properties=props)
                else:
                    self.c.subscribe(topic, qos)
                if not self.subscribed.wait(TIMEOUT):
                    raise RuntimeError(self.cid + ": no SUBACK")

            def publish(self, topic, payload, qos, props=None):
                info = self.c.publish(topic, payload, qos=qos, properties=props) if V5 else self.c.publish(topic, payload, qos=qos)
                info.wait_for_publish(TIMEOUT)
                if not info.is_published():
                    raise RuntimeError(self.cid + ": publish not acknowledged")

            def next(self):
                return self.messages.get(timeout=TIMEOUT)

            def close(self):
                self.c.disconnect()
                self.c.loop_stop()

        def roundtrip():
            topic = prefix + "/rt"
            sub = Peer(prefix + "-s")
            sub.subscribe(topic, 2)
            out("granted", [int(getattr(g, "value", g)) for g in sub.granted])
            pub = Peer(prefix + "-p")
            for qos in (1, 2):
                pub.publish(topic, "payload-q%d" % qos, qos)
            for _ in range(2):
                m = sub.next()
                out("received", m.topic, m.qos, m.payload.decode(), int(m.retain), int(m.dup))
            pub.close(); sub.close()

        def properties():
            topic = prefix + "/props"
            sub = Peer(prefix + "-s")
            sub.subscribe(topic, 1, sub_id=7)
            sub.subscribe(prefix + "/#", 0, sub_id=9)
            pub = Peer(prefix + "-p")
            p = Properties(PacketTypes.PUBLISH)
            p.UserProperty = [("site", "plant-3"), ("unit", "C"), ("site", "again")]
            p.ResponseTopic = topic + "/reply"
            p.CorrelationData = b"\x00\x01corr"
            p.ContentType = "text/plain"
            p.PayloadFormatIndicator = 1
            p.MessageExpiryInterval = 120
            pub.publish(topic, "21.5", 1, p)
            m = sub.next()
            mp = m.properties
            out("received", m.topic, m.qos, m.payload.decode())
            out("user", ";".join("%s=%s" % kv for kv in mp.UserProperty))
            out("response", mp.ResponseTopic)
            out("correlation", mp.CorrelationData.hex())
            out("content", mp.ContentType)
            out("format", mp.PayloadFormatIndicator)
            out("expiry", mp.MessageExpiryInterval)
            out("subids", ",".join(str(i) for i in sorted(mp.SubscriptionIdentifier)))
            pub.close(); sub.close()

        def resume():
            topic = prefix + "/queue"
            sid = prefix + "-s"
            sub = Peer(sid, clean=V5, session_expiry=600)  # 3.1.1: CleanSession=0 from the start
            sub.subscribe(topic, 1)
            sub.close()
            pub = Peer(prefix + "-p")
            for i in range(1, 6):
                pub.publish(topic, "queued-%d" % i, 1)
            pub.close()
            back = Peer(sid, clean=False, session_expiry=600)
            out("session_present", back.flags["session present"])
            for _ in range(5):
                m = back.next()
                out("received", m.qos, m.payload.decode())
            back.close()

        def codes(rcs):
            return ",".join("%02X" % int(getattr(r, "value", r)) for r in rcs)

        def edges():
            # Empty client id: the server assigns one and says so [MQTT-3.2.2-16].
            anon = Peer("")
            out("assigned", anon.assigned)
            # SUBACK carries one reason code per filter, 0x8F for an invalid filter [MQTT-3.9.3-1].
            anon.subscribed.clear()
            # paho refuses bad filters itself; switch that off so the broker is the one judging.
            mqtt.Client._filter_wildcard_len_check = staticmethod(lambda sub: mqtt.MQTT_ERR_SUCCESS)
            anon.c.subscribe([(prefix + "/ok/+", mqtt.SubscribeOptions(qos=1)),
                              (prefix + "/bad/#/x", mqtt.SubscribeOptions(qos=0)),
                              ("$share/+/" + prefix + "/x", mqtt.SubscribeOptions(qos=0))])
            if not anon.subscribed.wait(TIMEOUT):
                raise RuntimeError("no SUBACK")
            out("suback", codes(anon.granted))
            # UNSUBACK: 0x00 for a removed subscription, 0x11 No subscription existed.
            done = threading.Event()
            result = {}
            def on_unsub(c, u, mid, props, rcs):
                result["rcs"] = rcs if isinstance(rcs, list) else [rcs]
                done.set()
            anon.c.on_unsubscribe = on_unsub
            anon.c.unsubscribe([prefix + "/ok/+", prefix + "/never"])
            if not done.wait(TIMEOUT):
                raise RuntimeError("no UNSUBACK")
            out("unsuback", codes(result["rcs"]))
            anon.close()

        try:
            {"roundtrip": roundtrip, "properties": properties, "resume": resume, "edges": edges}[mode]()
            out("done")
        except Exception:
            traceback.print_exc()
            sys.exit(1)
        """;

    private static async Task<string[]> RunPahoAsync(TestBroker broker, string mode, string protocol)
    {
        string python = DebianTool.RequirePaho();
        string path = Path.Combine(Path.GetTempPath(), $"holdfast-paho-{Guid.NewGuid():N}.py");
        await File.WriteAllTextAsync(path, Script);
        try
        {
            var (exit, stdout, stderr) = await ProcessRunner.RunAsync(python,
                [path, mode, broker.Port.ToString(), Unique("paho"), protocol], TimeSpan.FromSeconds(60));
            Assert.True(exit == 0, $"paho script '{mode}' exited {exit}.\nstdout:\n{stdout}\nstderr:\n{stderr}");
            var lines = Lines(stdout);
            Assert.Equal("done", lines[^1]);
            return lines[..^1];
        }
        finally
        {
            File.Delete(path);
        }
    }

    [SkippableTheory]
    [InlineData("v311")]
    [InlineData("v5")]
    public async Task Qos1_and_qos2_round_trip(string protocol)
    {
        await using var broker = await TestBroker.StartAsync();
        var lines = await RunPahoAsync(broker, "roundtrip", protocol);

        Assert.Equal("granted [2]", lines[0]);
        var received = lines[1..];
        // Same publisher, same topic: delivered in order [MQTT-4.6.0-5], each at its own QoS, fresh (no RETAIN, no DUP).
        Assert.Equal(2, received.Length);
        Assert.Matches(@"^received paho-\w+/rt 1 payload-q1 0 0$", received[0]);
        Assert.Matches(@"^received paho-\w+/rt 2 payload-q2 0 0$", received[1]);
        // The QoS 2 flow completed in both directions.
        await broker.Log.WaitForAsync("Sending PUBCOMP to paho-");
        Assert.Contains(broker.Log.Lines, l => l.StartsWith("Received PUBCOMP from paho-", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task V5_properties_and_subscription_identifiers_reach_the_subscriber()
    {
        await using var broker = await TestBroker.StartAsync();
        var lines = await RunPahoAsync(broker, "properties", "v5");
        var by = lines.Select(l => l.Split(' ', 2)).ToDictionary(p => p[0], p => p[1]);

        // Two overlapping subscriptions (prefix/props q1 id 7, prefix/# q0 id 9): one copy at the highest QoS,
        // carrying both subscription identifiers [MQTT-3.3.4-3, -5]. (Holdfast documents this choice.)
        Assert.Matches(@"^paho-\w+/props 1 21\.5$", by["received"]);
        Assert.Equal("7,9", by["subids"]);
        Assert.Equal("site=plant-3;unit=C;site=again", by["user"]);
        Assert.EndsWith("/props/reply", by["response"]);
        Assert.Equal("0001636f7272", by["correlation"]);
        Assert.Equal("text/plain", by["content"]);
        Assert.Equal("1", by["format"]);
        Assert.InRange(int.Parse(by["expiry"]), 115, 120);
    }

    [SkippableTheory]
    [InlineData("v311")]
    [InlineData("v5")]
    public async Task Reconnect_without_clean_start_gets_the_messages_queued_meanwhile(string protocol)
    {
        await using var broker = await TestBroker.StartAsync();
        var lines = await RunPahoAsync(broker, "resume", protocol);

        Assert.Equal("session_present 1", lines[0]);
        Assert.Equal(Enumerable.Range(1, 5).Select(i => $"received 1 queued-{i}"), lines[1..]);
    }

    [SkippableFact]
    public async Task V5_assigned_client_id_and_per_filter_suback_and_unsuback_reason_codes()
    {
        await using var broker = await TestBroker.StartAsync();
        var lines = await RunPahoAsync(broker, "edges", "v5");
        var by = lines.Select(l => l.Split(' ', 2)).ToDictionary(p => p[0], p => p[1]);

        Assert.False(string.IsNullOrWhiteSpace(by["assigned"]) || by["assigned"] == "None", "no Assigned Client Identifier");
        Assert.Contains($" as {by["assigned"]} (", string.Join("\n", broker.Log.Lines));
        // '#' not last, and a share name with a wildcard [MQTT-4.7.1-1, MQTT-4.8.2-2]: 0x8F Topic Filter invalid.
        Assert.Equal("01,8F,8F", by["suback"]);
        Assert.Equal("00,11", by["unsuback"]);
    }
}
