using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>The last retained message per topic. Guarded by the broker's lock.</summary>
public sealed class RetainedStore
{
    private readonly Dictionary<string, Message> _messages = new(StringComparer.Ordinal);

    public int Count => _messages.Count;

    /// <summary>Sets or replaces; an empty payload clears the topic [MQTT-3.3.1-6].</summary>
    public void Set(Message message)
    {
        if (message.Payload.IsEmpty) _messages.Remove(message.Topic);
        else _messages[message.Topic] = message;
    }

    /// <summary>Retained messages matching a (plain) filter; expired ones are removed on the way.</summary>
    public List<Message> Match(string filter, long now)
    {
        var result = new List<Message>();
        List<string>? expired = null;
        if (!TopicRules.HasWildcard(filter))
        {
            if (_messages.TryGetValue(filter, out var exact))
            {
                if (exact.IsExpired(now)) (expired ??= []).Add(filter);
                else result.Add(exact);
            }
        }
        else
        {
            foreach (var (topic, message) in _messages)
            {
                if (!TopicRules.Matches(filter, topic)) continue;
                if (message.IsExpired(now)) (expired ??= []).Add(topic);
                else result.Add(message);
            }
        }
        if (expired is not null) foreach (var t in expired) _messages.Remove(t);
        return result;
    }

    public IEnumerable<Message> All => _messages.Values;
}
