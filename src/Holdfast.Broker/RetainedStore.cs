using System.Runtime.InteropServices;
using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>The last retained message per topic. Guarded by the broker's lock.</summary>
public sealed class RetainedStore
{
    private readonly Dictionary<string, Message> _messages = new(StringComparer.Ordinal);

    public int Count => _messages.Count;
    /// <summary>Sum of the retained messages' <see cref="Message.Size"/>, kept as they change.</summary>
    public long Bytes { get; private set; }

    /// <summary>Sets or replaces; an empty payload clears the topic [MQTT-3.3.1-6]. Returns the message it replaced or cleared.</summary>
    public Message? Set(Message message)
    {
        if (message.Payload.IsEmpty) return Remove(message.Topic);
        ref var kept = ref CollectionsMarshal.GetValueRefOrAddDefault(_messages, message.Topic, out bool replaced);
        var previous = kept;
        if (replaced) Bytes -= kept!.Size;
        kept = message;
        Bytes += message.Size;
        return previous;
    }

    private Message? Remove(string topic)
    {
        if (!_messages.Remove(topic, out var old)) return null;
        Bytes -= old.Size;
        return old;
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
        if (expired is not null) foreach (var t in expired) Remove(t);
        return result;
    }

    public IEnumerable<Message> All => _messages.Values;
}
