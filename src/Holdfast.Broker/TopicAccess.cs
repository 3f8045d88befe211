namespace Holdfast.Broker;

/// <summary>What a client wants to do with a topic, as an access check (acl_file) sees it.</summary>
public enum TopicAccess
{
    /// <summary>Receive a message published on the topic.</summary>
    Read,
    /// <summary>Publish on the topic (including a will).</summary>
    Write,
    /// <summary>Subscribe with the topic filter.</summary>
    Subscribe,
    /// <summary>Unsubscribe from the topic filter (dynamic security can refuse it; an acl_file never does).</summary>
    Unsubscribe,
}

/// <summary>Decides whether a client may do <paramref name="access"/> on <paramref name="topic"/> (a topic name, or a
/// filter for <see cref="TopicAccess.Subscribe"/> and <see cref="TopicAccess.Unsubscribe"/>). The broker knows nothing of
/// where the rules come from; they may change between two calls (a reload, a dynamic security command).</summary>
public delegate bool AccessCheck(string clientId, string? userName, string topic, TopicAccess access);
