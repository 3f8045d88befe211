using System.Text;
using Holdfast.Protocol;

namespace Holdfast.Broker.Tests;

/// <summary>What the broker offers an access-control plugin (dynamic security) without knowing it: a credentials check,
/// an UNSUBSCRIBE check, $CONTROL/ messages handed over instead of routed, and kicking clients.</summary>
public class PluginHookTests
{
    private static ListenerPolicy Policy(CredentialsCheck? credentials = null, AccessCheck? access = null, ControlMessageHandler? control = null,
        Func<string, ReadOnlyMemory<byte>, bool>? password = null) =>
        new() { Name = "1883", CheckCredentials = credentials, CheckAccess = access, HandleControl = control, CheckPassword = password };

    private static Peer ConnectAs(MqttBroker broker, ListenerPolicy policy, string clientId, string userName, string password)
    {
        var conn = new FakeConnection(clientId);
        var client = broker.HandleConnect(conn, new ConnectPacket
        {
            ProtocolVersion = ProtocolVersion.V500, ProtocolName = "MQTT", ClientId = clientId, CleanStart = true,
            UserName = userName, Password = Encoding.UTF8.GetBytes(password),
        }, policy);
        return new Peer(broker, conn, client);
    }

    [Fact]
    public void The_credentials_check_decides_first_and_what_it_does_not_know_is_refused_without_a_password_file()
    {
        using var broker = TestBroker.New();
        var policy = Policy(credentials: (clientId, user, password) => user switch
        {
            "alice" => clientId == "c1" && Encoding.UTF8.GetString(password!.Value.Span) == "pw",
            _ => null,
        });
        Assert.Equal(ReasonCode.Success, ConnectAs(broker, policy, "c1", "alice", "pw").ConnAck.ReasonCode);
        Assert.Equal(ReasonCode.NotAuthorized, ConnectAs(broker, policy, "c2", "alice", "pw").ConnAck.ReasonCode);
        Assert.Equal(ReasonCode.NotAuthorized, ConnectAs(broker, policy, "c3", "mallory", "pw").ConnAck.ReasonCode);

        // With a password file, what the check does not know is the file's to decide.
        var chained = Policy(credentials: (_, user, _) => user == "alice" ? false : null, password: (user, pw) => user == "bob");
        Assert.Equal(ReasonCode.Success, ConnectAs(broker, chained, "c4", "bob", "x").ConnAck.ReasonCode);
        Assert.Equal(ReasonCode.NotAuthorized, ConnectAs(broker, chained, "c5", "carol", "x").ConnAck.ReasonCode);
        Assert.Equal(ReasonCode.NotAuthorized, ConnectAs(broker, chained, "c6", "alice", "x").ConnAck.ReasonCode);
    }

    [Fact]
    public void A_control_message_goes_to_the_handler_acknowledged_and_to_no_subscriber()
    {
        using var broker = TestBroker.New();
        var handled = new List<(string Client, string Topic, string Payload)>();
        var policy = Policy(control: (client, topic, payload) => handled.Add((client.ClientId, topic, Encoding.UTF8.GetString(payload.Span))));
        var watcher = broker.Connect("watcher", policy: policy);
        watcher.Subscribe("$CONTROL/#");
        var admin = broker.Connect("admin", policy: policy);
        admin.Publish("$CONTROL/dynamic-security/v1", "{\"commands\":[]}", packetId: 1);
        Assert.Equal([("admin", "$CONTROL/dynamic-security/v1", "{\"commands\":[]}")], handled);
        Assert.Equal(ReasonCode.Success, Assert.Single(admin.Conn.SentOf<PubAckPacket>()).ReasonCode);
        Assert.Empty(watcher.Publishes);

        // Not allowed to write there: refused as any publish is, and the handler never sees it.
        var denied = Policy(control: (_, _, _) => handled.Add(("?", "?", "?")), access: (_, _, _, access) => access != TopicAccess.Write);
        var intruder = broker.Connect("intruder", policy: denied);
        intruder.Publish("$CONTROL/dynamic-security/v1", "{}", packetId: 1);
        Assert.Equal(ReasonCode.NotAuthorized, Assert.Single(intruder.Conn.SentOf<PubAckPacket>()).ReasonCode);
        Assert.Single(handled);
    }

    [Fact]
    public void A_refused_unsubscribe_keeps_the_subscription()
    {
        using var broker = TestBroker.New();
        var policy = Policy(access: (_, _, topic, access) => access != TopicAccess.Unsubscribe || topic != "locked");
        var sub = broker.Connect("sub", policy: policy);
        sub.Subscribe("locked");
        sub.Subscribe("free", packetId: 2);
        broker.HandleUnsubscribe(sub.Client, new UnsubscribePacket { PacketId = 3, TopicFilters = ["locked", "free"] });
        Assert.Equal([ReasonCode.NotAuthorized, ReasonCode.Success], Assert.Single(sub.Conn.SentOf<UnsubAckPacket>()).ReasonCodes);
        var pub = broker.Connect("pub", policy: policy);
        pub.Publish("locked", "still here", packetId: 1);
        pub.Publish("free", "gone", packetId: 2);
        Assert.Equal(["still here"], sub.Publishes.Select(p => p.Text()));
    }

    /// <summary>UNSUBSCRIBE is checked against the filter without $share/GROUP/, as SUBSCRIBE is.</summary>
    [Fact]
    public void A_shared_unsubscribe_is_checked_without_its_share_prefix()
    {
        using var broker = TestBroker.New();
        var policy = Policy(access: (_, _, topic, access) => access is not (TopicAccess.Subscribe or TopicAccess.Unsubscribe) || topic == "plant/#");
        var sub = broker.Connect("sub", policy: policy);
        sub.Subscribe("$share/g/plant/#");
        broker.HandleUnsubscribe(sub.Client, new UnsubscribePacket { PacketId = 3, TopicFilters = ["$share/g/plant/#"] });
        Assert.Equal([ReasonCode.Success], Assert.Single(sub.Conn.SentOf<UnsubAckPacket>()).ReasonCodes);
    }

    [Fact]
    public void A_kick_closes_with_administrative_action_and_publishes_no_will()
    {
        using var broker = TestBroker.New();
        var watcher = broker.Connect("watcher");
        watcher.Subscribe("wills/#");
        var will = new WillMessage { Topic = "wills/kicked", Payload = Encoding.UTF8.GetBytes("gone"), QoS = QualityOfService.AtLeastOnce };
        var kicked = broker.Connect("kicked", will: will, userName: "bob");
        var kept = broker.Connect("kept", userName: "alice");
        Assert.Equal(1, broker.Kick(c => c.UserName == "bob", "test"));
        Assert.Equal(ReasonCode.AdministrativeAction, kicked.Conn.CloseReason);
        Assert.False(kept.Conn.IsClosed);
        Assert.Empty(watcher.Publishes);
    }
}
