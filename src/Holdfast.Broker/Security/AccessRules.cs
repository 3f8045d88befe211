using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>
/// Access control (acl_file, through <see cref="ListenerPolicy.CheckAccess"/>): who may publish, subscribe, receive and
/// leave a will. A listener without an ACL costs one null check per decision. The listeners are known by name, so that a
/// session recovered from the store is judged by the listener it last connected to. Immutable after construction.
/// </summary>
internal sealed class AccessRules
{
    /// <summary>A name two listeners share maps to null: which one it was is unknown.</summary>
    private readonly Dictionary<string, ListenerPolicy?> _listenersByName = new(StringComparer.Ordinal);

    public AccessRules(IEnumerable<ListenerPolicy> listeners)
    {
        foreach (var policy in listeners)
        {
            _listenersByName[policy.Name] = _listenersByName.ContainsKey(policy.Name) ? null : policy;
            AnyListenerHasAcl |= policy.CheckAccess is not null;
        }
    }

    public bool AnyListenerHasAcl { get; }

    public ListenerPolicy? ListenerNamed(string name) => _listenersByName.GetValueOrDefault(name);

    public static bool MayWrite(ConnectedClient client, string topic) =>
        client.Policy.CheckAccess is not { } check || check(client.ClientId, client.UserName, topic, TopicAccess.Write);

    public static bool MaySubscribe(ConnectedClient client, string filter) =>
        client.Policy.CheckAccess is not { } check || check(client.ClientId, client.UserName, filter, TopicAccess.Subscribe);

    public static bool MayUnsubscribe(ConnectedClient client, string filter) =>
        client.Policy.CheckAccess is not { } check || check(client.ClientId, client.UserName, filter, TopicAccess.Unsubscribe);

    /// <summary>Whether the session may receive a message on <paramref name="topic"/>, judged by its latest connection
    /// (also while it is offline, and after a restart: the identity is stored with the session). A recovered session whose
    /// listener is unknown (an old record, a listener renamed or removed) is let through on purpose: its messages are
    /// queued, not dropped, and judged when they are sent, once a connection has said who it is. Dropping them could lose
    /// messages the returning client may read.</summary>
    public static bool MayRead(Session session, string topic) =>
        session.Identity is not { Policy: { } policy } identity || policy.CheckAccess is not { } check
        || check(session.ClientId, identity.UserName, topic, TopicAccess.Read);

    /// <summary>As Mosquitto does at will time: the will's topic must be writable by its client under the rules in force
    /// when it is published (a reload in between counts). When the client's listener is unknown after a restart and any
    /// listener has an ACL, it fails closed: a will nobody can vouch for is not published.</summary>
    public bool MayPublishWill(Session session, string topic) =>
        session.Identity is not { Policy: { } policy } identity ? !AnyListenerHasAcl
        : policy.CheckAccess is not { } check || check(session.ClientId, identity.UserName, topic, TopicAccess.Write);

    /// <summary>$SYS topics belong to the broker: clients neither publish nor leave wills there.</summary>
    public static bool IsBrokerTopic(string topic) =>
        topic == "$SYS" || topic.StartsWith("$SYS/", StringComparison.Ordinal);

    /// <summary>Topics no client may publish on, as Mosquitto judges them (a denial, like an ACL's): $SYS, except
    /// <c>$SYS/broker/connection/NAME/state</c>, where a bridge from another broker reports its state; and
    /// <c>$share/…</c>, which names subscriptions, not messages.</summary>
    public static bool IsClosedToPublishers(string topic) =>
        IsBrokerTopic(topic) ? !IsBridgeStateTopic(topic) : TopicRules.IsShared(topic);

    private static bool IsBridgeStateTopic(string topic)
    {
        const string prefix = "$SYS/broker/connection/", suffix = "/state";
        if (!topic.StartsWith(prefix, StringComparison.Ordinal) || !topic.EndsWith(suffix, StringComparison.Ordinal)) return false;
        int nameLength = topic.Length - prefix.Length - suffix.Length;
        return nameLength > 0 && topic.IndexOf('/', prefix.Length, nameLength) < 0;
    }

    /// <summary>$CONTROL/ topics are requests to the broker's control handlers (Mosquitto's plugins' APIs).</summary>
    public static bool IsControlTopic(string topic) => topic.StartsWith("$CONTROL/", StringComparison.Ordinal);
}
