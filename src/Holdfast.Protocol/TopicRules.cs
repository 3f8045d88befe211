namespace Holdfast.Protocol;

/// <summary>Topic name and topic filter rules of MQTT 5.0 §4.7 (identical in 3.1.1), and shared subscription syntax (§4.8.2).</summary>
public static class TopicRules
{
    public const string SharePrefix = "$share/";

    /// <summary>Mosquitto's limit on topic names and filters: at most 200 '/' (201 levels). Deeper ones are refused, as
    /// Mosquitto refuses them, which also keeps the subscription trie and its walks shallow.</summary>
    public const int MaxSeparators = 200;

    public static bool HasTooManyLevels(string topicOrFilter) => topicOrFilter.AsSpan().Count('/') > MaxSeparators;

    /// <summary>A topic name has no wildcards and at least one character (MQTT 5 allows an empty one only with a Topic Alias).</summary>
    public static bool IsValidTopicName(string topic, bool allowEmpty = false)
    {
        if (topic.Length == 0) return allowEmpty;
        return topic.AsSpan().IndexOfAny('+', '#') < 0;
    }

    /// <summary>'+' fills a whole level; '#' fills a whole level and is the last one. Shared filters must name a group.</summary>
    public static bool IsValidTopicFilter(string filter)
    {
        if (filter.StartsWith(SharePrefix, StringComparison.Ordinal))
            return TryParseShared(filter, out _, out _);
        return IsValidPlainFilter(filter);
    }

    private static bool IsValidPlainFilter(ReadOnlySpan<char> filter)
    {
        if (filter.IsEmpty) return false;
        for (int i = 0; i < filter.Length; i++)
        {
            char c = filter[i];
            if (c != '+' && c != '#') continue;
            bool startsLevel = i == 0 || filter[i - 1] == '/';
            bool endsLevel = i == filter.Length - 1 || filter[i + 1] == '/';
            if (!startsLevel || !endsLevel) return false;
            if (c == '#' && i != filter.Length - 1) return false;
        }
        return true;
    }

    /// <summary>Splits <c>$share/{group}/{filter}</c>. The group is non-empty and holds no '/', '+' or '#'.</summary>
    public static bool TryParseShared(string filter, out string group, out string topicFilter)
    {
        group = topicFilter = "";
        if (!filter.StartsWith(SharePrefix, StringComparison.Ordinal)) return false;
        var rest = filter.AsSpan(SharePrefix.Length);
        int slash = rest.IndexOf('/');
        if (slash <= 0) return false;
        var groupSpan = rest[..slash];
        if (groupSpan.IndexOfAny('+', '#') >= 0) return false;
        var inner = rest[(slash + 1)..];
        if (!IsValidPlainFilter(inner)) return false;
        group = groupSpan.ToString();
        topicFilter = inner.ToString();
        return true;
    }

    public static bool IsShared(string filter) => filter.StartsWith(SharePrefix, StringComparison.Ordinal);

    public static bool HasWildcard(string filter) => filter.AsSpan().IndexOfAny('+', '#') >= 0;

    /// <summary>Whether a (plain) filter matches a topic name. Topics starting with '$' are not matched by a
    /// filter starting with a wildcard [MQTT-4.7.2-1].</summary>
    public static bool Matches(string filter, string topic) => Matches(filter.AsSpan(), topic.AsSpan());

    /// <inheritdoc cref="Matches(string, string)"/>
    public static bool Matches(ReadOnlySpan<char> filter, ReadOnlySpan<char> topic)
    {
        if (topic.Length > 0 && topic[0] == '$' && filter.Length > 0 && (filter[0] == '+' || filter[0] == '#'))
            return false;
        var f = filter;
        var t = topic;
        while (true)
        {
            int fs = f.IndexOf('/');
            var fLevel = fs < 0 ? f : f[..fs];
            if (fLevel is "#") return true;
            int ts = t.IndexOf('/');
            var tLevel = ts < 0 ? t : t[..ts];
            if (!(fLevel is "+") && !fLevel.SequenceEqual(tLevel)) return false;
            if (fs < 0 || ts < 0)
            {
                // "a/#" also matches "a": the filter's next level is a lone '#'.
                if (fs >= 0 && ts < 0) return f[(fs + 1)..] is "#";
                return fs < 0 && ts < 0;
            }
            f = f[(fs + 1)..];
            t = t[(ts + 1)..];
        }
    }
}
