using Holdfast.Protocol;

namespace Holdfast.Broker;

// Access control (acl_file, through ListenerPolicy.CheckAccess): publishes, subscriptions, deliveries and wills; and
// the clients a reloaded password file no longer lets in. A listener without an ACL costs one null check per decision.
public sealed partial class MqttBroker
{
    /// <summary>The listeners' policies by <see cref="ListenerPolicy.Name"/>, to judge a session recovered from the store by
    /// the listener it last connected to. A name two listeners share maps to null: which one it was is unknown.</summary>
    private readonly Dictionary<string, ListenerPolicy?> _listenersByName = new(StringComparer.Ordinal);
    private bool _anyListenerHasAcl;

    private void KnowListeners(IEnumerable<ListenerPolicy> listeners)
    {
        foreach (var policy in listeners)
        {
            _listenersByName[policy.Name] = _listenersByName.ContainsKey(policy.Name) ? null : policy;
            _anyListenerHasAcl |= policy.CheckAccess is not null;
        }
    }

    private ListenerPolicy? ListenerNamed(string name) => _listenersByName.GetValueOrDefault(name);

    private static bool MayWrite(ConnectedClient client, string topic) =>
        client.Policy.CheckAccess is not { } check || check(client.ClientId, client.UserName, topic, TopicAccess.Write);

    private static bool MaySubscribe(ConnectedClient client, string filter) =>
        client.Policy.CheckAccess is not { } check || check(client.ClientId, client.UserName, filter, TopicAccess.Subscribe);

    /// <summary>Whether the session may receive a message on <paramref name="topic"/>, judged by its latest connection
    /// (also while it is offline, and after a restart: the identity is stored with the session). A recovered session whose
    /// listener is unknown (an old record, a listener renamed or removed) is let through on purpose: its messages are
    /// queued, not dropped, and judged when they are sent (see <see cref="Pump"/>), once a connection has said who it is.
    /// Dropping them could lose messages the returning client may read.</summary>
    private static bool MayRead(Session session, string topic) =>
        session.Identity is not { Policy: { } policy } identity || policy.CheckAccess is not { } check
        || check(session.ClientId, identity.UserName, topic, TopicAccess.Read);

    /// <summary>As Mosquitto does at will time: the will's topic must be writable by its client under the rules in force
    /// when it is published (a reload in between counts). When the client's listener is unknown after a restart and any
    /// listener has an ACL, it fails closed: a will nobody can vouch for is not published.</summary>
    private bool MayPublishWill(Session session, string topic) =>
        session.Identity is not { Policy: { } policy } identity ? !_anyListenerHasAcl
        : policy.CheckAccess is not { } check || check(session.ClientId, identity.UserName, topic, TopicAccess.Write);

    /// <summary>A message its subscriber may not read: counted; logged only at debug, because a subscription to a wide
    /// filter that the ACL narrows (e.g. '#') is ordinary use, as with Mosquitto.</summary>
    private void DropUnreadable(Session session, Message message)
    {
        Metrics.Drop(DropCause.NotAuthorized);
        if (Log.IsEnabled(LogType.Debug))
            Log.Write(LogType.Debug, $"Denied delivery of message {message.Id} on '{message.Topic}' to {session.ClientId}: no read access.");
    }

    /// <summary>A PUBLISH its client may not write: never routed, counted and logged (Mosquitto's words). MQTT 5 QoS 1/2
    /// publishers are told with 0x87 Not authorized; MQTT 3.1.1 has no reason code, so (as Mosquitto 2) the message is
    /// acknowledged normally and dropped, and a QoS 2 flow still completes with PUBREL/PUBCOMP.</summary>
    private void DenyPublish(BrokerOperation op, ConnectedClient client, PublishPacket packet, string topic)
    {
        Metrics.Drop(DropCause.NotAuthorized);
        if (Log.IsEnabled(LogType.Notice))
            Log.Notice($"Denied PUBLISH from {client.ClientId} (d{(packet.Dup ? 1 : 0)}, q{(int)packet.QoS}, r{(packet.Retain ? 1 : 0)}, m{packet.PacketId}, '{topic}', ... ({packet.Payload.Length} bytes))");
        if (client.IsV5) Acknowledge(op, client, packet, ReasonCode.NotAuthorized);
        else AcknowledgeUnrouted(op, client, packet);
    }

    /// <summary>After the password file was reloaded (SIGHUP): disconnects every connected client for which
    /// <paramref name="stillAuthorized"/> says no, as Mosquitto does (MQTT 5: DISCONNECT 0x87 Not authorized). Their wills
    /// are published, as for any connection the broker ends. Returns how many were disconnected.</summary>
    public int DisconnectUnauthorized(Func<ConnectedClient, bool> stillAuthorized)
    {
        lock (_lock)
        {
            using var op = BeginOperation();
            // Collected first: ending a connection can end its session, which changes the dictionary.
            var refused = _sessions.Values.Select(s => s.Client).OfType<ConnectedClient>().Where(c => !c.Closed && !stillAuthorized(c)).ToList();
            foreach (var client in refused)
            {
                if (Log.IsEnabled(LogType.Notice)) Log.Notice($"Client {client.ClientId} disconnected, not authorised.");
                CloseConnection(op, client, ReasonCode.NotAuthorized, "credentials no longer valid");
                EndConnection(op, client);
            }
            return refused.Count;
        }
    }
}
