using Holdfast.Protocol;

namespace Holdfast.Broker.Tests;

public class PacketIdTests
{
    private static InflightMessage Inflight(ushort id) =>
        new(id, new Message("t", new byte[] { 1 }, QualityOfService.AtLeastOnce, false, null, "p", 0), QualityOfService.AtLeastOnce, false, null);

    [Fact]
    public void Session_never_hands_out_an_id_held_by_an_inflight_message_across_wrap_around()
    {
        var session = new Session("s");
        var held = new HashSet<ushort>();
        // Hold 1, 2 and 3 for the whole run.
        for (int i = 0; i < 3; i++)
        {
            var id = session.NextPacketId();
            session.AddInflight(Inflight(id));
            held.Add(id);
        }
        Assert.Equal(new ushort[] { 1, 2, 3 }, held.Order());

        // Go round the id space twice: 0 is never used, the held ids never come back, and every free id does.
        var seen = new HashSet<ushort>();
        ushort previous = 3;
        bool wrapped = false;
        for (int i = 0; i < 2 * 65532; i++)
        {
            var id = session.NextPacketId();
            Assert.NotEqual(0, id);
            Assert.DoesNotContain(id, held);
            if (id < previous) { wrapped = true; Assert.Equal(4, id); Assert.Equal(65535, previous); }
            previous = id;
            seen.Add(id);
        }
        Assert.True(wrapped);
        Assert.Equal(65532, seen.Count);

        // Freed ids are available again.
        Assert.True(session.RemoveInflight(2));
        var ids = Enumerable.Range(0, 65533).Select(_ => session.NextPacketId()).ToList();
        Assert.Contains((ushort)2, ids);
        Assert.DoesNotContain((ushort)1, ids);
        Assert.DoesNotContain((ushort)3, ids);
    }

    [Fact]
    public void Broker_skips_an_id_still_inflight_when_ids_wrap_past_65535()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 2, MaxQueuedMessages = 0 });
        var sub = broker.Connect("sub");
        sub.Subscribe("t");
        var pub = broker.Connect("pub");

        pub.Publish("t", "stuck", packetId: 1);
        var stuck = Assert.Single(sub.Publishes);
        Assert.Equal(1, stuck.PacketId);

        // The second window slot carries 70,000 messages, each acknowledged; the first stays unacknowledged.
        const int n = 70_000;
        var ids = new List<ushort>(n);
        sub.Conn.Clear();
        for (int i = 0; i < n; i++)
        {
            pub.Publish("t", "m" + i, packetId: 2);
            var p = Assert.Single(sub.Publishes);
            sub.Conn.Clear();
            Assert.Equal("m" + i, p.Text());
            ids.Add(p.PacketId);
            sub.PubAck(p.PacketId);
        }
        Assert.DoesNotContain((ushort)1, ids);
        Assert.DoesNotContain((ushort)0, ids);
        Assert.Equal(2, ids[0]);
        int wrapAt = ids.IndexOf(65535);
        Assert.True(wrapAt > 0);
        Assert.Equal(2, ids[wrapAt + 1]); // 1 is skipped: still held by 'stuck'

        // The stuck message still completes with its own id.
        sub.PubAck(1);
        pub.Publish("t", "after", packetId: 3);
        Assert.Equal("after", sub.Publishes[^1].Text());
    }
}
