using System.Text;
using Holdfast.Interop.Tests.Infrastructure;
using static Holdfast.Interop.Tests.DebianPeers.Mosquitto;
using static Holdfast.Interop.Tests.Infrastructure.RawByteClient;

namespace Holdfast.Interop.Tests.DebianPeers;

/// <summary>
/// Bad bytes from a raw socket (DESIGN.md §6). In every case (1) the broker answers and closes as the spec says,
/// and (2) a mosquitto_sub / mosquitto_pub pair connected throughout keeps working, and new clients still get in.
/// </summary>
public sealed class MalformedInputTests
{
    private const byte Disconnect = 14;
    private const byte ConnAck = 2;

    /// <summary>A v5 mosquitto_sub on ROOT/# and a 3.1.1 mosquitto_pub -l kept connected (reading stdin) on ROOT/w.</summary>
    private sealed class Witness : IAsyncDisposable
    {
        private readonly TestBroker _broker;
        private readonly ProcessRunner _sub;
        private readonly ProcessRunner _pub;
        private readonly string _root;

        private Witness(TestBroker broker, ProcessRunner sub, ProcessRunner pub, string root)
        {
            _broker = broker;
            _sub = sub;
            _pub = pub;
            _root = root;
        }

        /// <summary>Everything under this prefix reaches the witness subscriber.</summary>
        public string Root => _root;

        public static async Task<Witness> StartAsync(TestBroker broker)
        {
            string root = Unique("witness");
            string pubId = Unique("wpub");
            var sub = await SubscribeAsync(broker, "mqttv5", Unique("wsub"), "-t", root + "/#", "-q", "1", "-C", "3", "-F", "%t %p");
            var pub = ProcessRunner.StartWithInput(DebianTool.Require("mosquitto_pub"),
                ["-h", "127.0.0.1", "-p", broker.Port.ToString(), "-V", "mqttv311", "-i", pubId, "-q", "1", "-t", root + "/w", "-l"]);
            var witness = new Witness(broker, sub, pub, root);
            await broker.Log.WaitForAsync($" as {pubId} (");
            await pub.WriteInputLineAsync("before");
            await sub.WaitForOutputAsync($"{root}/w before", PeerTimeout);
            return witness;
        }

        /// <summary>The same two clients still exchange a message, a brand-new client can still publish, and
        /// nothing else (such as the bad packet's topic) reached the subscriber.</summary>
        public async Task AssertStillWorksAsync()
        {
            await _pub.WriteInputLineAsync("after");
            await _sub.WaitForOutputAsync($"{_root}/w after", PeerTimeout);
            await PublishAsync(_broker.Port, "mqttv5", Unique("fresh"), ["-t", _root + "/fresh", "-q", "1", "-m", "new-client"]);
            Assert.Equal([$"{_root}/w before", $"{_root}/w after", $"{_root}/fresh new-client"], await LinesAfterExitAsync(_sub));
            _pub.CloseInput();
            Assert.True(await _pub.WaitForExitAsync(PeerTimeout), "mosquitto_pub -l did not exit at end of input");
            Assert.True(_pub.ExitCode == 0, $"mosquitto_pub -l exited {_pub.ExitCode}: {_pub.Stderr}");
        }

        public async ValueTask DisposeAsync()
        {
            await _pub.DisposeAsync();
            await _sub.DisposeAsync();
        }
    }

    private static async Task<(TestBroker Broker, Witness Witness)> StartAsync()
    {
        var broker = await TestBroker.StartAsync();
        try
        {
            return (broker, await Witness.StartAsync(broker));
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
    }

    private static void AssertDisconnect(List<RawPacket> packets, byte reason)
    {
        var packet = Assert.Single(packets);
        Assert.True(packet.Type == Disconnect && packet.Body.Length >= 1 && packet.Body[0] == reason,
            $"expected DISCONNECT 0x{reason:X2} then close, got {packet}");
    }

    [SkippableTheory]
    [InlineData("0000", "reserved packet type 0")]
    [InlineData("C000", "PINGREQ before CONNECT")]
    [InlineData("F000", "AUTH before CONNECT")]
    [InlineData("300700032F612F6869", "PUBLISH before CONNECT")]
    [InlineData("474554202F20485454502F312E310D0A486F73743A20780D0A0D0A", "an HTTP request")]
    [InlineData("FFFFFFFFFFFFFFFF", "0xFF bytes")]
    public async Task Garbage_instead_of_connect_is_closed_without_a_reply(string hex, string what)
    {
        var (broker, witness) = await StartAsync();
        await using var _b = broker;
        await using var _w = witness;

        await using (var raw = await RawByteClient.ConnectAsync(broker.Port))
        {
            await raw.SendAsync(Convert.FromHexString(hex));
            // The first packet must be CONNECT; anything else closes the connection [MQTT-3.1.0-1].
            Assert.True((await raw.ReadUntilClosedAsync()).Count == 0, $"broker answered {what}");
        }
        await witness.AssertStillWorksAsync();
    }

    [SkippableTheory]
    [InlineData(4)]
    [InlineData(5)]
    public async Task Connect_with_a_bad_protocol_name_is_refused_and_closed(int level)
    {
        var (broker, witness) = await StartAsync();
        await using var _b = broker;
        await using var _w = witness;
        string id = Unique("badname");

        await using (var raw = await RawByteClient.ConnectAsync(broker.Port))
        {
            await raw.SendAsync(Connect(level, id, protocolName: "MQTX"));
            // [MQTT-3.1.2-1] / v5 §3.1.2.1: the server may send a refusing CONNACK, and must not go on as MQTT.
            var packets = await raw.ReadUntilClosedAsync();
            Assert.True(packets.Count == 0 || (packets.Count == 1 && packets[0].Type == ConnAck && packets[0].Body[1] != 0),
                $"expected a close (or a refusing CONNACK), got {string.Join("; ", packets)}");
        }
        Assert.False(broker.Log.Contains($" as {id} ("), "a client with a bad protocol name was connected");
        await witness.AssertStillWorksAsync();
    }

    [SkippableFact]
    public async Task Unsupported_protocol_level_in_a_311_layout_connect_gets_connack_1()
    {
        var (broker, witness) = await StartAsync();
        await using var _b = broker;
        await using var _w = witness;

        await using (var raw = await RawByteClient.ConnectAsync(broker.Port))
        {
            await raw.SendAsync(Connect(7, Unique("lvl7"), v5Layout: false));
            // "The Server MUST respond to the CONNECT Packet with a CONNACK return code 0x01 (unacceptable protocol
            // level) and then disconnect the Client if the Protocol Level is not supported" [MQTT-3.1.2-2].
            var packet = Assert.Single(await raw.ReadUntilClosedAsync());
            Assert.Equal(ConnAck, packet.Type);
            Assert.Equal([0x00, 0x01], packet.Body);
        }
        await witness.AssertStillWorksAsync();
    }

    [SkippableFact]
    public async Task Unsupported_protocol_level_in_a_v5_layout_connect_is_refused_as_unsupported_version()
    {
        var (broker, witness) = await StartAsync();
        await using var _b = broker;
        await using var _w = witness;

        await using (var raw = await RawByteClient.ConnectAsync(broker.Port))
        {
            await raw.SendAsync(Connect(6, Unique("lvl6"), v5Layout: true));
            // The broker cannot know the layout of an unknown version: v5 §3.1.2.2 allows CONNACK 0x84 (Unsupported
            // Protocol Version), 3.1.1 requires return code 1. Either, in its own packet layout, then a close.
            var packet = Assert.Single(await raw.ReadUntilClosedAsync());
            Assert.Equal(ConnAck, packet.Type);
            Assert.True(packet.Body.SequenceEqual(new byte[] { 0x00, 0x01 }) || packet.Body.SequenceEqual(new byte[] { 0x00, 0x84, 0x00 }),
                $"expected CONNACK rc 1 or 0x84, got {packet}");
        }
        await witness.AssertStillWorksAsync();
    }

    [SkippableTheory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task Remaining_length_of_five_bytes_is_malformed(int connectedLevel)
    {
        var (broker, witness) = await StartAsync();
        await using var _b = broker;
        await using var _w = witness;

        await using (var raw = await RawByteClient.ConnectAsync(broker.Port))
        {
            if (connectedLevel > 0) await raw.ConnectMqttAsync(connectedLevel, Unique("rl5"));
            // A Variable Byte Integer has at most four bytes [MQTT-1.5.5-1 / 2.2.3].
            await raw.SendAsync(connectedLevel == 0 ? (byte)0x10 : (byte)0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01);
            var packets = await raw.ReadUntilClosedAsync();
            if (connectedLevel == 5) AssertDisconnect(packets, 0x81); // Malformed Packet
            else Assert.Empty(packets);                               // 3.1.1 and before CONNECT: just close
        }
        await witness.AssertStillWorksAsync();
    }

    [SkippableTheory]
    [InlineData(4, "+")]
    [InlineData(5, "+")]
    [InlineData(4, "#")]
    [InlineData(5, "#")]
    [InlineData(5, "x/+/y")]
    public async Task Publish_to_a_wildcard_topic_is_refused_and_not_routed(int level, string suffix)
    {
        var (broker, witness) = await StartAsync();
        await using var _b = broker;
        await using var _w = witness;

        await using (var raw = await RawByteClient.ConnectAsync(broker.Port))
        {
            await raw.ConnectMqttAsync(level, Unique("wild"));
            // The witness subscribes to ROOT/#, so a routed wildcard publish would show up in its output.
            await raw.SendAsync(Publish(Str($"{witness.Root}/{suffix}"), "should not route", v5: level == 5, qos: 1));
            // Topic names must not contain wildcards [MQTT-3.3.2-2]: v5 0x90 Topic Name invalid; 3.1.1 closes.
            var packets = await raw.ReadUntilClosedAsync();
            if (level == 5) AssertDisconnect(packets, 0x90);
            else Assert.Empty(packets);
        }
        await witness.AssertStillWorksAsync();
    }

    [SkippableTheory]
    [InlineData(4)]
    [InlineData(5)]
    public async Task Second_connect_is_a_protocol_error(int level)
    {
        var (broker, witness) = await StartAsync();
        await using var _b = broker;
        await using var _w = witness;
        string id = Unique("twice");

        await using (var raw = await RawByteClient.ConnectAsync(broker.Port))
        {
            await raw.ConnectMqttAsync(level, id);
            await raw.SendAsync(Connect(level, id));
            // A second CONNECT is a Protocol Error and the connection is closed [MQTT-3.1.0-2], without a DISCONNECT
            // (optional, MQTT 5.0 §4.13.1), as Mosquitto closes it.
            Assert.Empty(await raw.ReadUntilClosedAsync());
        }
        await witness.AssertStillWorksAsync();
    }

    /// <summary>Mosquitto's test for its issue 2163: a CONNACK (here with bad flags) sent to the broker closes that
    /// connection without a DISCONNECT, and the broker serves the next one.</summary>
    [SkippableTheory]
    [InlineData(4, "2900")]
    [InlineData(5, "2900")]
    [InlineData(5, "20020000")]
    [InlineData(5, "900400010000")]
    public async Task A_packet_only_servers_send_closes_the_connection(int level, string hex)
    {
        var (broker, witness) = await StartAsync();
        await using var _b = broker;
        await using var _w = witness;
        await using (var raw = await RawByteClient.ConnectAsync(broker.Port))
        {
            await raw.ConnectMqttAsync(level, Unique("server-only"));
            await raw.SendAsync(Convert.FromHexString(hex));
            Assert.Empty(await raw.ReadUntilClosedAsync());
        }
        await witness.AssertStillWorksAsync();
    }

    [SkippableTheory]
    [InlineData(4, "C328", "invalid continuation byte")]
    [InlineData(5, "C328", "invalid continuation byte")]
    [InlineData(5, "EDA080", "encoded surrogate U+D800")]
    [InlineData(5, "C0AF", "overlong encoding of '/'")]
    [InlineData(5, "00", "U+0000")]
    [InlineData(4, "00", "U+0000")]
    [InlineData(5, "FF", "byte 0xFF")]
    public async Task Topic_that_is_not_well_formed_utf8_is_malformed(int level, string badHex, string what)
    {
        var (broker, witness) = await StartAsync();
        await using var _b = broker;
        await using var _w = witness;

        await using (var raw = await RawByteClient.ConnectAsync(broker.Port))
        {
            await raw.ConnectMqttAsync(level, Unique("utf8"));
            byte[] topic = [.. Encoding.UTF8.GetBytes(witness.Root + "/"), .. Convert.FromHexString(badHex)];
            await raw.SendAsync(Publish(Bytes(topic), "bad topic", v5: level == 5, qos: 1));
            // Ill-formed UTF-8 or U+0000 makes a Malformed Packet [MQTT-1.5.4-1, -2]: v5 0x81; 3.1.1 closes [MQTT-1.5.3-1].
            var packets = await raw.ReadUntilClosedAsync();
            if (level == 5) AssertDisconnect(packets, 0x81);
            else Assert.True(packets.Count == 0, $"{what}: expected a close, got {string.Join("; ", packets)}");
        }
        await witness.AssertStillWorksAsync();
    }

    [SkippableTheory]
    [InlineData(5, "publish-qos3")]
    [InlineData(4, "publish-qos3")]
    [InlineData(5, "subscribe-flags0")]
    [InlineData(4, "subscribe-flags0")]
    public async Task Malformed_fixed_header_after_connect_is_refused(int level, string kind)
    {
        var (broker, witness) = await StartAsync();
        await using var _b = broker;
        await using var _w = witness;

        await using (var raw = await RawByteClient.ConnectAsync(broker.Port))
        {
            await raw.ConnectMqttAsync(level, Unique("hdr"));
            byte[] properties = level == 5 ? [0] : [];
            byte[] bad = kind == "publish-qos3"
                // QoS bits 11 [MQTT-3.3.1-4].
                ? Packet(0x36, Str(witness.Root + "/q3"), [0, 1], properties, "x"u8.ToArray())
                // SUBSCRIBE's reserved flags must be 0010 [MQTT-3.8.1-1]; these are 0000.
                : Packet(0x80, [0, 2], properties, Str(witness.Root + "/#"), [1]);
            await raw.SendAsync(bad);
            var packets = await raw.ReadUntilClosedAsync();
            if (level == 5) AssertDisconnect(packets, 0x81); // Malformed Packet
            else Assert.True(packets.Count == 0, $"{kind}: expected a close, got {string.Join("; ", packets)}");
        }
        await witness.AssertStillWorksAsync();
    }
}
