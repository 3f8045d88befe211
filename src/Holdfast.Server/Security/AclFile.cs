using Holdfast.Broker;
using Holdfast.Protocol;
using Holdfast.Server.Configuration;

namespace Holdfast.Server.Security;

/// <summary>
/// Mosquitto's ACL file (acl_file). Lines:
/// <list type="bullet">
/// <item><c>topic [read|write|readwrite|deny] TOPIC</c>: no access word means readwrite. Before any <c>user</c> line it
/// applies to anonymous clients; after one, to that user.</item>
/// <item><c>user NAME</c>: the following <c>topic</c> lines are NAME's.</item>
/// <item><c>pattern [read|write|readwrite|deny] TOPIC</c>: for every client, with <c>%c</c> replaced by its client id and
/// <c>%u</c> by its user name.</item>
/// </list>
/// Blank lines and lines starting with <c>#</c> are ignored. As in Mosquitto 2, a <c>deny</c> that matches wins over any
/// grant, and what no line grants is denied. TOPIC may hold <c>+</c> and <c>#</c> and is matched by MQTT's rules, so
/// <c>#</c> does not reach <c>$SYS/…</c> (a line such as <c>topic read $SYS/#</c> does).
/// </summary>
public sealed class AclFile
{
    private enum Grant { Deny, Read, Write, ReadWrite }

    private readonly record struct Rule(Grant Grant, string Topic)
    {
        public bool Allows(TopicAccess access) => access switch
        {
            TopicAccess.Write => Grant is Grant.Write or Grant.ReadWrite,
            _ => Grant is Grant.Read or Grant.ReadWrite,
        };
    }

    private readonly List<Rule> _anonymous = [];
    private readonly Dictionary<string, List<Rule>> _users = new(StringComparer.Ordinal);
    private readonly List<Rule> _patterns = [];

    private AclFile() { }

    /// <summary>Reads an ACL file; a bad line throws <see cref="ConfigException"/> naming the file, the line and why, and an
    /// unreadable file one with line 0.</summary>
    public static AclFile Load(string path)
    {
        string[] lines;
        try { lines = File.ReadAllLines(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(path, 0, $"cannot read {path}: {e.Message}");
        }
        return Parse(lines, path);
    }

    public static AclFile Parse(IReadOnlyList<string> lines, string path)
    {
        var acl = new AclFile();
        List<Rule> topics = acl._anonymous;
        for (int i = 0; i < lines.Count; i++)
        {
            string line = lines[i].Trim(' ', '\t', '\r');
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int space = line.IndexOfAny([' ', '\t']);
            string keyword = space < 0 ? line : line[..space];
            string rest = space < 0 ? "" : line[(space + 1)..].Trim(' ', '\t');
            switch (keyword)
            {
                case "user":
                    // The rest of the line is the name, spaces and all, as Mosquitto reads it.
                    if (rest.Length == 0) throw new ConfigException(path, i + 1, "user: missing user name");
                    if (!acl._users.TryGetValue(rest, out topics!)) acl._users[rest] = topics = [];
                    break;
                case "topic":
                    topics.Add(ParseRule(rest, path, i + 1, keyword));
                    break;
                case "pattern":
                    acl._patterns.Add(ParseRule(rest, path, i + 1, keyword));
                    break;
                default:
                    throw new ConfigException(path, i + 1, $"unknown line '{Shown(keyword)}' (expected topic, pattern or user)");
            }
        }
        return acl;
    }

    private static Rule ParseRule(string text, string path, int line, string keyword)
    {
        if (text.Length == 0) throw new ConfigException(path, line, $"{keyword}: missing topic");
        int space = text.IndexOfAny([' ', '\t']);
        // One word is the topic (readwrite); otherwise the first word is the access and the rest of the line the topic.
        Grant grant = Grant.ReadWrite;
        string topic = text;
        if (space > 0)
        {
            string word = text[..space];
            grant = word switch
            {
                "read" => Grant.Read,
                "write" => Grant.Write,
                "readwrite" => Grant.ReadWrite,
                "deny" => Grant.Deny,
                _ => throw new ConfigException(path, line, $"{keyword}: unknown access '{Shown(word)}' (expected read, write, readwrite or deny)"),
            };
            topic = text[(space + 1)..].Trim(' ', '\t');
        }
        if (!TopicRules.IsValidTopicFilter(topic))
            throw new ConfigException(path, line, $"{keyword}: '{Shown(topic)}' is not a valid topic filter");
        return new Rule(grant, topic);
    }

    /// <summary>Whether the client may <paramref name="access"/> <paramref name="topic"/> (a topic name; a topic filter for
    /// <see cref="TopicAccess.Subscribe"/>). <paramref name="userName"/> null is an anonymous client.</summary>
    public bool Check(string clientId, string? userName, string topic, TopicAccess access)
    {
        // As Mosquitto 2: the file never refuses a SUBSCRIBE or an UNSUBSCRIBE; every delivery is checked for read access
        // instead. So a reload that grants a topic reaches the subscriptions already made.
        if (access is TopicAccess.Subscribe or TopicAccess.Unsubscribe) return true;
        var topics = userName is null ? _anonymous : _users.GetValueOrDefault(userName);
        // As Mosquitto: a client id or user name holding a wildcard could widen a pattern into other clients' topics.
        if (_patterns.Count > 0 && (HasWildcard(clientId) || (userName is not null && HasWildcard(userName)))) return false;

        // Denials first: a deny that matches wins whatever the order of the lines.
        if (topics is not null)
            foreach (var rule in topics)
                if (rule.Grant == Grant.Deny && TopicRules.Matches(rule.Topic, topic)) return false;
        foreach (var rule in _patterns)
            if (rule.Grant == Grant.Deny && PatternApplies(rule.Topic, clientId, userName, topic)) return false;

        if (topics is not null)
            foreach (var rule in topics)
                if (rule.Allows(access) && TopicRules.Matches(rule.Topic, topic)) return true;
        foreach (var rule in _patterns)
            if (rule.Grant != Grant.Deny && rule.Allows(access) && PatternApplies(rule.Topic, clientId, userName, topic)) return true;
        return false;
    }

    /// <summary>A pattern with %c and %u filled in (on the stack: publishes and deliveries are the hot path), matched
    /// against the topic.</summary>
    private static bool PatternApplies(string pattern, string clientId, string? userName, string topic)
    {
        if (!pattern.Contains('%')) return TopicRules.Matches(pattern, topic);
        if (userName is null && pattern.Contains("%u", StringComparison.Ordinal)) return false;
        int length = FilledLength(pattern, clientId, userName);
        Span<char> buffer = length <= 512 ? stackalloc char[length] : new char[length];
        return TopicRules.Matches(buffer[..Fill(pattern, clientId, userName, buffer)], topic);
    }

    /// <summary>At least the length of the filled-in pattern.</summary>
    private static int FilledLength(string pattern, string clientId, string? userName) =>
        pattern.Length + Count(pattern, "%c") * clientId.Length + Count(pattern, "%u") * (userName?.Length ?? 0);

    /// <summary>Writes the pattern with %c and %u filled in (one pass, so a value holding "%c" stays as it is); returns
    /// the length written.</summary>
    private static int Fill(string pattern, string clientId, string? userName, Span<char> buffer)
    {
        int written = 0;
        for (int i = 0; i < pattern.Length; i++)
        {
            string? value = pattern[i] != '%' || i + 1 == pattern.Length ? null : pattern[i + 1] switch
            {
                'c' => clientId,
                'u' => userName,
                _ => null,
            };
            if (value is null) { buffer[written++] = pattern[i]; continue; }
            value.CopyTo(buffer[written..]);
            written += value.Length;
            i++;
        }
        return written;
    }

    private static int Count(string text, string part)
    {
        int count = 0;
        for (int at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal)) count++;
        return count;
    }

    private static bool HasWildcard(string text) => text.AsSpan().IndexOfAny('+', '#') >= 0;

    /// <summary>Text from the file as an error shows it: a runaway line (a binary file named by mistake) is cut short.</summary>
    private static string Shown(string text) => text.Length <= 80 ? text : text[..80] + "...";
}
