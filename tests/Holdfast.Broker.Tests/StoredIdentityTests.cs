using System.Text;
using Holdfast.Broker.Storage;
using Holdfast.Protocol;
using Holdfast.Storage.Memory;

namespace Holdfast.Broker.Tests;

/// <summary>The user name and listener of a session's latest connection, kept with its record, so that the ACL still judges
/// it after a restart; and what happens when they cannot be found again.</summary>
public class StoredIdentityTests
{
    /// <summary>An ACL: anyone may subscribe to any filter; alice may read and write anything, anyone else only open/#.</summary>
    private static bool Acl(string clientId, string? userName, string topic, TopicAccess access) =>
        access == TopicAccess.Subscribe || userName == "alice" || topic.StartsWith("open/", StringComparison.Ordinal);

    private static ListenerPolicy Listener(string name, bool acl = true) => new() { Name = name, CheckAccess = acl ? Acl : null };

    private static WillMessage Will(string topic, uint delaySeconds) => new()
    {
        Topic = topic,
        Payload = Encoding.UTF8.GetBytes("gone"),
        QoS = QualityOfService.AtLeastOnce,
        Properties = new MqttProperties { WillDelayInterval = delaySeconds },
    };

    [Fact]
    public void The_session_record_keeps_the_user_and_listener_of_the_latest_connection()
    {
        var store = new MemoryStore();
        var listener = Listener("1883");
        using var broker = TestBroker.New(store: store, listeners: [listener]);
        broker.Connect("device", cleanStart: false, sessionExpiry: 60, policy: listener, userName: "alice");
        Assert.Equal(("1883", "alice"), Stored(store, "device"));

        // A takeover by another user on another listener: the record says who the session belongs to now.
        var other = Listener("8883");
        broker.Connect("device", cleanStart: false, sessionExpiry: 60, policy: other, userName: "bob");
        Assert.Equal(("8883", "bob"), Stored(store, "device"));
        broker.Connect("device", cleanStart: false, sessionExpiry: 60, policy: other).Lost();
        Assert.Equal(("8883", null), Stored(store, "device"));
    }

    private static (string?, string?) Stored(MemoryStore store, string clientId)
    {
        var s = store.Load().Sessions.Single(s => s.ClientId == clientId);
        return (s.ListenerName, s.UserName);
    }

    [Fact]
    public void A_session_whose_listener_is_gone_after_a_restart_fails_closed_for_its_will_and_keeps_its_queue()
    {
        var store = new MemoryStore();
        var before = Listener("1883");
        using (var first = TestBroker.New(store: store, listeners: [before]))
        {
            var reader = first.Connect("reader", cleanStart: false, sessionExpiry: 60, policy: before);
            reader.Subscribe("#");
            reader.Lost();
            // Alice may write plant/will, so with her identity known her will would be published.
            first.Connect("will-alice", cleanStart: false, sessionExpiry: 60, policy: before, userName: "alice", will: Will("plant/will", 1)).Lost();
        }

        // The listener was renamed in the config (its port changed): neither session's listener is known any more.
        var log = new RecordingLog();
        var after = Listener("1884");
        using var second = TestBroker.New(log: log, store: store, listeners: [after]);
        Assert.Contains(log.Lines, l => l.Text.StartsWith("2 recovered session(s) name no listener of this config", StringComparison.Ordinal));
        second.TickUntil(() => log.Lines.Any(l => l.Text.Contains("Will of will-alice")), what: "the will's delay");
        Assert.Contains(log.Lines, l => l.Text == "Will of will-alice on 'plant/will' not published: not authorized (its listener is unknown since the restart).");

        // Messages for the unknown reader are queued, not dropped: it may be entitled to them. Judged when it is back.
        var alice = second.Connect("alice", policy: after, userName: "alice");
        alice.Publish("plant/temp", "not for anonymous", packetId: 1);
        alice.Publish("open/news", "for anyone", packetId: 2);
        Assert.Equal(1, second.Metrics.Dropped(DropCause.NotAuthorized));   // the will only
        var back = second.Connect("reader", cleanStart: false, sessionExpiry: 60, policy: after);
        Assert.Equal(["for anyone"], back.Publishes.Select(p => p.Text()));
        Assert.Equal(2, second.Metrics.Dropped(DropCause.NotAuthorized));
    }

    [Fact]
    public void A_record_without_an_identity_fails_closed_for_its_will_only_where_a_listener_has_an_acl()
    {
        foreach (bool acl in new[] { true, false })
        {
            // As written before identities were kept: no listener, no user name.
            var store = new MemoryStore();
            var changes = store.BeginChanges();
            changes.SaveSession(new StoredSession("old", ProtocolVersion.V500, 60, [], DisconnectedAt: Environment.TickCount64), expectedEpoch: 0);
            changes.SetPendingWill("old", new PendingWill(Will("open/will", 0), Environment.TickCount64));
            changes.Commit();
            var log = new RecordingLog();
            using var broker = TestBroker.New(log: log, store: store, listeners: [Listener("1883", acl)]);
            broker.TickUntil(() => log.Lines.Any(l => l.Text.Contains("ill of old")), what: "the will");
            Assert.Equal(acl, log.Lines.Any(l => l.Text.StartsWith("Will of old on 'open/will' not published", StringComparison.Ordinal)));
            Assert.Equal(!acl, log.Lines.Any(l => l.Text == "Publishing will of old on 'open/will'."));
        }
    }
}
