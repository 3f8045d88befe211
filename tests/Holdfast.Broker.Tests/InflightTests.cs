using Holdfast.Protocol;

namespace Holdfast.Broker.Tests;

public class InflightTests
{
    [Theory]
    [InlineData(ProtocolVersion.V500)]
    [InlineData(ProtocolVersion.V311)]
    public void Window_of_N_sends_N_and_each_puback_releases_exactly_one_more_in_order(ProtocolVersion version)
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 3 });
        var sub = broker.Connect("sub", version);
        sub.Subscribe("t");
        var pub = broker.Connect("pub");
        for (int i = 0; i < 8; i++) pub.Publish("t", "m" + i, packetId: (ushort)(i + 1));

        Assert.Equal(["m0", "m1", "m2"], sub.Publishes.Select(p => p.Text()));
        Assert.Equal(8, broker.Metrics.MessagesReceived);
        Assert.All(pub.Conn.SentOf<PubAckPacket>(), a => Assert.Equal(ReasonCode.Success, a.ReasonCode));
        Assert.Equal(8, pub.Conn.SentOf<PubAckPacket>().Length);

        // Acks out of order still release exactly one each, and the queue drains in publish order.
        var first = sub.Publishes;
        sub.PubAck(first[1].PacketId);
        Assert.Equal(["m0", "m1", "m2", "m3"], sub.Publishes.Select(p => p.Text()));
        sub.PubAck(first[1].PacketId); // a duplicate ack releases nothing
        Assert.Equal(4, sub.Publishes.Length);
        sub.PubAck(9999); // unknown id releases nothing
        Assert.Equal(4, sub.Publishes.Length);
        sub.PubAck(first[0].PacketId);
        Assert.Equal(5, sub.Publishes.Length);
        sub.PubAck(first[2].PacketId);
        Assert.Equal(6, sub.Publishes.Length);
        for (int i = 3; i < sub.Publishes.Length; i++) sub.PubAck(sub.Publishes[i].PacketId);
        Assert.Equal(["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"], sub.Publishes.Select(p => p.Text()));
        Assert.All(sub.Publishes, p => Assert.False(p.Dup));
        Assert.Equal(8, sub.Publishes.Select(p => p.PacketId).Distinct().Count());
        Assert.Equal(0, sub.Client.Session.InflightCount);
        Assert.Equal(0, sub.Client.Session.QueuedCount);
    }

    [Fact]
    public void Client_receive_maximum_narrows_the_window()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 10 });
        var sub = broker.Connect("sub", receiveMaximum: 2);
        sub.Subscribe("t");
        var pub = broker.Connect("pub");
        for (int i = 0; i < 5; i++) pub.Publish("t", "m" + i, packetId: (ushort)(i + 1));
        Assert.Equal(2, sub.Publishes.Length);
        sub.PubAck(sub.Publishes[0].PacketId);
        Assert.Equal(3, sub.Publishes.Length);
    }

    [Fact]
    public void Qos0_messages_are_not_held_by_the_window()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 1 });
        var sub = broker.Connect("sub");
        sub.Subscribe("t", QualityOfService.ExactlyOnce);
        var pub = broker.Connect("pub");
        pub.Publish("t", "q1", QualityOfService.AtLeastOnce, 1);
        pub.Publish("t", "q0", QualityOfService.AtMostOnce);
        Assert.Equal(["q1", "q0"], sub.Publishes.Select(p => p.Text()));
        Assert.Equal(0, sub.Publishes[1].PacketId);
    }

    [Fact]
    public void Qos2_outbound_flow_pubrec_then_pubrel_then_pubcomp_releases()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 1 });
        var sub = broker.Connect("sub");
        sub.Subscribe("t", QualityOfService.ExactlyOnce);
        var pub = broker.Connect("pub");
        pub.Publish("t", "a", QualityOfService.ExactlyOnce, 1);
        pub.PubRel(1);
        pub.Publish("t", "b", QualityOfService.ExactlyOnce, 2);
        pub.PubRel(2);

        var a = Assert.Single(sub.Publishes);
        Assert.Equal(QualityOfService.ExactlyOnce, a.QoS);

        sub.PubRec(a.PacketId);
        var rel = Assert.Single(sub.Conn.SentOf<PubRelPacket>());
        Assert.Equal(a.PacketId, rel.PacketId);
        Assert.Single(sub.Publishes); // PUBREC does not release the window

        sub.PubComp(a.PacketId);
        Assert.Equal(["a", "b"], sub.Publishes.Select(p => p.Text()));
        Assert.Equal(1, sub.Client.Session.InflightCount);
    }

    /// <summary>An acknowledgement that does not fit its flow is a protocol error (MQTT 5.0 §4.13), as in Mosquitto
    /// (its 02-subpub-qos1-bad-pubcomp, -bad-pubrec, 02-subpub-qos2-bad-puback-1/-2 and -bad-pubcomp tests): the
    /// connection is closed without a DISCONNECT, the message stays inflight for the session's next connection, and an
    /// ack for a packet id not inflight is still only ignored.</summary>
    [Theory]
    [InlineData(QualityOfService.AtLeastOnce, "PUBCOMP", false)]
    [InlineData(QualityOfService.AtLeastOnce, "PUBREC", false)]
    [InlineData(QualityOfService.ExactlyOnce, "PUBACK", false)]
    [InlineData(QualityOfService.ExactlyOnce, "PUBACK", true)]
    [InlineData(QualityOfService.ExactlyOnce, "PUBCOMP", false)]
    public void An_acknowledgement_of_the_wrong_kind_closes_the_connection(QualityOfService qos, string ack, bool afterPubRec)
    {
        foreach (var version in new[] { ProtocolVersion.V311, ProtocolVersion.V500 })
        {
            using var broker = TestBroker.New();
            var sub = broker.ConnectPersistent("sub", version);
            sub.Subscribe("t", qos);
            broker.Connect("pub").Publish("t", "a", qos, 1);
            var a = Assert.Single(sub.Publishes);
            if (afterPubRec) sub.PubRec(a.PacketId);

            // Another packet id is not inflight: ignored, the connection stays.
            Send(sub, ack, (ushort)(a.PacketId + 1));
            Assert.Empty(sub.Conn.Closes);

            Send(sub, ack, a.PacketId);
            var close = Assert.Single(sub.Conn.Closes);
            Assert.Null(close.Reason);
            Assert.False(sub.Client.Session.IsConnected);
            Assert.NotNull(sub.Client.Session.FindInflight(a.PacketId));
        }

        static void Send(Peer peer, string ack, ushort packetId)
        {
            switch (ack)
            {
                case "PUBACK": peer.PubAck(packetId); break;
                case "PUBREC": peer.PubRec(packetId); break;
                default: peer.PubComp(packetId); break;
            }
        }
    }

    [Fact]
    public void Qos2_pubrec_with_error_reason_ends_the_flow()
    {
        // The publisher leaves both unreleased: more than a Receive Maximum taken from the window of 1.
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 1, ReceiveMaximum = 10 });
        var sub = broker.ConnectPersistent("sub");
        sub.Subscribe("t", QualityOfService.ExactlyOnce);
        var pub = broker.Connect("pub");
        pub.Publish("t", "a", QualityOfService.ExactlyOnce, 1);
        pub.Publish("t", "b", QualityOfService.ExactlyOnce, 2);

        var a = Assert.Single(sub.Publishes);
        sub.PubRec(a.PacketId, ReasonCode.UnspecifiedError);
        Assert.Empty(sub.Conn.SentOf<PubRelPacket>());
        Assert.Equal(["a", "b"], sub.Publishes.Select(p => p.Text()));
        Assert.Null(sub.Client.Session.FindInflight(a.PacketId));

        // The refused message is not resent after a reconnect either.
        sub.Lost();
        var again = broker.ConnectPersistent("sub");
        Assert.Equal(["b"], again.Publishes.Select(p => p.Text()));
        Assert.True(again.Publishes[0].Dup);
    }

    [Fact]
    public void Pubrec_for_unknown_id_gets_pubrel_packet_identifier_not_found()
    {
        using var broker = TestBroker.New();
        var sub = broker.Connect("sub");
        sub.PubRec(42);
        var rel = Assert.Single(sub.Conn.SentOf<PubRelPacket>());
        Assert.Equal(42, rel.PacketId);
        Assert.Equal(ReasonCode.PacketIdentifierNotFound, rel.ReasonCode);
    }

    [Fact]
    public void Resume_resends_inflight_first_with_dup_original_ids_and_order_then_pubrel_then_queue()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 4 });
        var sub = broker.ConnectPersistent("sub");
        sub.Subscribe("t", QualityOfService.ExactlyOnce);
        var pub = broker.Connect("pub");
        // Burn a few ids so the originals are not simply 1..n.
        pub.Publish("t", "warm", QualityOfService.AtLeastOnce, 100);
        sub.PubAck(sub.Publishes[0].PacketId);
        sub.Conn.Clear();

        pub.Publish("t", "q1-a", QualityOfService.AtLeastOnce, 1);
        pub.Publish("t", "q2-b", QualityOfService.ExactlyOnce, 2);
        pub.Publish("t", "q2-c", QualityOfService.ExactlyOnce, 3);
        pub.Publish("t", "q1-d", QualityOfService.AtLeastOnce, 4);
        pub.Publish("t", "queued-e", QualityOfService.AtLeastOnce, 5);
        pub.Publish("t", "queued-f", QualityOfService.AtLeastOnce, 6);
        var original = sub.Publishes;
        Assert.Equal(["q1-a", "q2-b", "q2-c", "q1-d"], original.Select(p => p.Text()));
        // q2-c is past PUBREC.
        sub.PubRec(original[2].PacketId);
        sub.Lost();

        var back = broker.Connect("sub", cleanStart: false, sessionExpiry: uint.MaxValue);
        Assert.True(back.ConnAck.SessionPresent);
        var sent = back.Conn.Sent;
        Assert.IsType<ConnAckPacket>(sent[0]);
        // Inflight first, in original order: PUBLISH DUP=1 with original ids, PUBREL for the flow past PUBREC.
        var p1 = Assert.IsType<PublishPacket>(sent[1]);
        Assert.Equal(("q1-a", original[0].PacketId, true), (p1.Text(), p1.PacketId, p1.Dup));
        var p2 = Assert.IsType<PublishPacket>(sent[2]);
        Assert.Equal(("q2-b", original[1].PacketId, true, QualityOfService.ExactlyOnce), (p2.Text(), p2.PacketId, p2.Dup, p2.QoS));
        var rel = Assert.IsType<PubRelPacket>(sent[3]);
        Assert.Equal(original[2].PacketId, rel.PacketId);
        var p4 = Assert.IsType<PublishPacket>(sent[4]);
        Assert.Equal(("q1-d", original[3].PacketId, true), (p4.Text(), p4.PacketId, p4.Dup));
        Assert.Equal(5, sent.Length); // window full: the queue waits
        Assert.DoesNotContain(back.Publishes, p => p.Text() == "q2-c");

        // Acks let the queue out, fresh (DUP=0) with new ids that don't collide with inflight ones.
        back.PubComp(original[2].PacketId);
        var e = back.Publishes[^1];
        Assert.Equal(("queued-e", false), (e.Text(), e.Dup));
        Assert.DoesNotContain(e.PacketId, new[] { original[0].PacketId, original[1].PacketId, original[3].PacketId });
        back.PubAck(original[0].PacketId);
        var f = back.Publishes[^1];
        Assert.Equal(("queued-f", false), (f.Text(), f.Dup));
    }

    [Fact]
    public void Resume_respects_the_clients_receive_maximum_while_resending()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 5 });
        var sub = broker.ConnectPersistent("sub");
        sub.Subscribe("t");
        var pub = broker.Connect("pub");
        for (int i = 0; i < 7; i++) pub.Publish("t", "m" + i, packetId: (ushort)(i + 1));
        var original = sub.Publishes;
        Assert.Equal(5, original.Length);
        sub.Lost();

        var back = broker.Connect("sub", cleanStart: false, sessionExpiry: uint.MaxValue, receiveMaximum: 2);
        Assert.Equal(["m0", "m1"], back.Publishes.Select(p => p.Text()));
        Assert.All(back.Publishes, p => Assert.True(p.Dup));

        back.PubAck(original[1].PacketId);
        Assert.Equal(["m0", "m1", "m2"], back.Publishes.Select(p => p.Text()));
        back.PubAck(original[0].PacketId);
        back.PubAck(original[2].PacketId);
        Assert.Equal(["m0", "m1", "m2", "m3", "m4"], back.Publishes.Select(p => p.Text()));
        Assert.All(back.Publishes, p => Assert.True(p.Dup));
        Assert.Equal(original.Select(p => p.PacketId), back.Publishes.Select(p => p.PacketId));

        // Two inflight now: the queue waits for room in the window of 2.
        back.PubAck(original[3].PacketId);
        Assert.Equal("m5", back.Publishes[^1].Text());
        Assert.False(back.Publishes[^1].Dup);
        Assert.Equal(6, back.Publishes.Length);
        back.PubAck(original[4].PacketId);
        Assert.Equal("m6", back.Publishes[^1].Text());
    }

    [Fact]
    public void Messages_arriving_during_resume_wait_behind_the_unsent_inflight()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 3 });
        var sub = broker.ConnectPersistent("sub");
        sub.Subscribe("t");
        var pub = broker.Connect("pub");
        for (int i = 0; i < 3; i++) pub.Publish("t", "old" + i, packetId: (ushort)(i + 1));
        sub.Lost();
        var back = broker.Connect("sub", cleanStart: false, sessionExpiry: uint.MaxValue, receiveMaximum: 1);
        Assert.Equal(["old0"], back.Publishes.Select(p => p.Text()));
        pub.Publish("t", "new", packetId: 9);
        Assert.Single(back.Publishes);
        back.PubAck(back.Publishes[0].PacketId);
        back.PubAck(back.Publishes[1].PacketId);
        back.PubAck(back.Publishes[2].PacketId);
        Assert.Equal(["old0", "old1", "old2", "new"], back.Publishes.Select(p => p.Text()));
    }

    [Fact]
    public void Inbound_dup_flag_is_never_passed_on()
    {
        using var broker = TestBroker.New();
        var sub = broker.Connect("sub");
        sub.Subscribe("t", QualityOfService.ExactlyOnce);
        var pub = broker.Connect("pub");
        pub.Publish("t", "q1", QualityOfService.AtLeastOnce, 1, dup: true);
        pub.Publish("t", "q2", QualityOfService.ExactlyOnce, 2, dup: true);
        var pub3 = broker.Connect("pub3", ProtocolVersion.V311);
        pub3.Publish("t", "v3", QualityOfService.AtLeastOnce, 1, dup: true);
        Assert.Equal(["q1", "q2", "v3"], sub.Publishes.Select(p => p.Text()));
        Assert.All(sub.Publishes, p => Assert.False(p.Dup));
    }

    [Fact]
    public void Oversize_message_for_client_maximum_packet_size_is_dropped_counted_and_does_not_use_the_window()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 1 });
        var sub = broker.Connect("sub", maximumPacketSize: 64);
        sub.Subscribe("t", QualityOfService.ExactlyOnce);
        var pub = broker.Connect("pub");
        pub.Publish("t", new string('x', 200), QualityOfService.AtLeastOnce, 1);
        pub.Publish("t", new string('y', 200), QualityOfService.AtMostOnce);
        Assert.Empty(sub.Publishes);
        Assert.Equal(2, broker.Metrics.Dropped(DropCause.PacketTooLarge));
        Assert.Equal(0, sub.Client.Session.InflightCount);
        // The publisher was acknowledged normally (the drop is at the subscriber's side).
        Assert.Equal(ReasonCode.Success, Assert.Single(pub.Conn.SentOf<PubAckPacket>()).ReasonCode);

        // The window of 1 is still free: a small message goes straight out.
        pub.Publish("t", "small", QualityOfService.AtLeastOnce, 2);
        var p = Assert.Single(sub.Publishes);
        Assert.Equal("small", p.Text());
        Assert.True(PacketWriter.GetSize(p, ProtocolVersion.V500) <= 64);
    }

    [Fact]
    public void Oversize_message_waiting_in_the_queue_is_dropped_when_its_turn_comes()
    {
        using var broker = TestBroker.New(new BrokerOptions { MaxInflightMessages = 1 });
        var sub = broker.Connect("sub", maximumPacketSize: 64);
        sub.Subscribe("t");
        var pub = broker.Connect("pub");
        pub.Publish("t", "first", packetId: 1);
        pub.Publish("t", new string('x', 200), packetId: 2);
        pub.Publish("t", "third", packetId: 3);
        sub.PubAck(sub.Publishes[0].PacketId);
        Assert.Equal(["first", "third"], sub.Publishes.Select(p => p.Text()));
        Assert.Equal(1, broker.Metrics.Dropped(DropCause.PacketTooLarge));
    }
}
