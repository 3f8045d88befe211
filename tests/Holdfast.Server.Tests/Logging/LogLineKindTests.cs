using Holdfast.Server.Logging;

namespace Holdfast.Server.Tests.Logging;

/// <summary>What counts as one kind of line, checked against the lines the broker writes today.</summary>
public class LogLineKindTests
{
    [Theory]
    [InlineData("Client connection from 127.0.0.1:5 refused: bad user name or password for 'x'.",
        "Client # from # refused: bad user name or password for '#'.")]
    [InlineData("Client connection from [::1]:60123 refused: max_connections 100 reached on port 1883 (closed).",
        "Client # from # refused: max_connections # reached on port # (closed).")]
    [InlineData("Denied PUBLISH from pump-a (d0, q1, r0, m12, 'plant/line 3/valve', ... (5 bytes))",
        "Denied PUBLISH from # '#', ... # bytes))")]
    [InlineData("Client pump-a sent a 300000-byte message on 'plant/x', over message_size_limit 262144.",
        "Client # sent a # message on '#', over message_size_limit #")]
    [InlineData("New connection from 10.1.2.3:40000 on port 1883.", "New connection from # on port #")]
    public void Variable_parts_are_replaced(string line, string kind) => Assert.Equal(kind, LogLineKind.Of(line));

    [Fact]
    public void The_same_refusal_from_other_clients_and_addresses_is_one_kind()
    {
        Assert.Equal(
            LogLineKind.Of("Client connection from 127.0.0.1:5 refused: bad user name or password for 'x'."),
            LogLineKind.Of("Client connection from 192.168.10.200:65000 refused: bad user name or password for 'some user'."));
        Assert.Equal(
            LogLineKind.Of("Denied PUBLISH from sensor-1 (d0, q1, r0, m1, 'a/b', ... (1 bytes))"),
            LogLineKind.Of("Denied PUBLISH from pump (d1, q2, r1, m65535, 'c d/e', ... (1000 bytes))"));
    }

    [Fact]
    public void Different_reasons_are_different_kinds()
    {
        var kinds = new[]
        {
            "Client connection from 127.0.0.1:5 refused: bad user name or password for 'x'.",
            "Client connection from 127.0.0.1:5 refused: not authorised.",
            "Client connection from 127.0.0.1:5 failed: certificate verify failed.",
            "Client 127.0.0.1:5 did not send CONNECT in time, closing.",
            "Client 127.0.0.1:5 sent PUBLISH before CONNECT, closing.",
            "Refused PUBLISH from pump-a on 'a' (m3) with 0x97: the queue of client dead1 is full (connected, 20 queued, 1.2 KiB, 20 inflight).",
            "Client pump-a held back on 'a': the queue of client dead1 is full (offline for 45 s, 20 queued, 900 B, 0 inflight).",
            "Dropped message 42 on 'a' (q1) for client dead1: queue full (offline for 45 s, 20 queued, 900 B, 0 inflight).",
            "Dropped message 42 on 'a' (q1) for client dead1: message expired.",
        }.Select(LogLineKind.Of);

        Assert.Equal(9, kinds.Distinct().Count());
    }

    [Fact]
    public void A_full_queue_is_one_kind_however_long_it_has_been_offline_and_however_large()
    {
        Assert.Equal(
            LogLineKind.Of("Refused PUBLISH from p1 on 'f/x' (m7) with 0x97: the queue of client dead1 is full (offline for 45 s, 1000 queued, 900 B, 0 inflight)."),
            LogLineKind.Of("Refused PUBLISH from p2 on 'g' (m65535) with 0x97: the queue of client d-2 is full (offline for 3 h 12 min, 5 queued, 1.5 GiB, 20 inflight)."));
        Assert.Equal(
            LogLineKind.Of("Ending the session of dead1: its queue is full (offline for 2 min 5 s, 9 queued, 1.0 GiB, 0 inflight) and a message on 'f/x' arrived; queue_full_policy end_session. The client will find no session (session present 0)."),
            LogLineKind.Of("Ending the session of x: its queue is full (offline for 45 s, 1000000 queued, 12.5 MiB, 3 inflight) and a message on 'y' arrived; queue_full_policy end_session. The client will find no session (session present 0)."));
    }

    [Theory]
    [InlineData("New client connected from 10.0.0.7:51234 as sensor-1 (p2, c1, k60, u'bob').")]
    [InlineData("Client sensor-1 disconnected.")]
    [InlineData("Client sensor-1 closed its connection.")]
    [InlineData("Client sensor-1 has exceeded timeout.")]
    [InlineData("Client sensor-1 has exceeded timeout, disconnecting.")]
    [InlineData("Client sensor-1 already connected, closing old connection.")]
    [InlineData("Client sensor-1 disconnected, not authorised.")]
    [InlineData("Client sensor-1 disconnected by the broker: password file changed.")]
    [InlineData("Client sensor-1 dropped after an internal error.")]
    [InlineData("Expiring client sensor-1.")]
    [InlineData("Publishing will of sensor-1 on 'plant/status'.")]
    public void Connect_and_disconnect_lines_are_never_limited(string line) => Assert.Null(LogLineKind.Of(line));

    [Theory]
    [InlineData("Client connection from 127.0.0.1:5 refused: client disconnected.")]
    [InlineData("Client evil disconnected. sent a bad packet: malformed; disconnecting (0x81).")]
    [InlineData("New connection from 10.1.2.3:40000 on port 1883.")]
    public void Refusals_and_lines_that_only_look_like_a_disconnect_are_limited(string line) =>
        Assert.NotNull(LogLineKind.Of(line));
}
