using Holdfast.Broker;
using Holdfast.Server.Configuration;
using Holdfast.Server.Security;

namespace Holdfast.Server.Tests;

/// <summary>Mosquitto's acl_file format and its meaning (man mosquitto.conf, Mosquitto 2's deny-first order).</summary>
public class AclFileTests
{
    private static AclFile Acl(string text) => AclFile.Parse(text.Split('\n'), "acl");

    private const string Example = """
        # anonymous clients
        topic read public/#
        topic write public/anonymous

        user alice
        topic readwrite a/#
        topic deny a/secret/#
        topic write  to alice/with space

        user bob
        topic b/only

        pattern read devices/%c/in
        pattern write devices/%c/out
        pattern readwrite users/%u/#
        pattern deny users/%u/locked
        topic read $SYS/broker/#
        """;

    [Theory]
    // The anonymous section: lines before any 'user'.
    [InlineData("anon", null, "public/x", TopicAccess.Read, true)]
    [InlineData("anon", null, "public/x", TopicAccess.Write, false)]
    [InlineData("anon", null, "public/anonymous", TopicAccess.Write, true)]
    [InlineData("anon", null, "a/b", TopicAccess.Read, false)]
    // A user's section does not include the anonymous one.
    [InlineData("c1", "alice", "public/x", TopicAccess.Read, false)]
    [InlineData("c1", "alice", "a/b/c", TopicAccess.Write, true)]
    [InlineData("c1", "alice", "a", TopicAccess.Read, true)]
    // deny wins over a grant, whatever the order.
    [InlineData("c1", "alice", "a/secret", TopicAccess.Read, false)]
    [InlineData("c1", "alice", "a/secret/x", TopicAccess.Write, false)]
    // The topic is the rest of the line.
    [InlineData("c1", "alice", "to alice/with space", TopicAccess.Write, true)]
    // No access word: readwrite. A user not in the file has only the patterns.
    [InlineData("c2", "bob", "b/only", TopicAccess.Read, true)]
    [InlineData("c2", "bob", "b/only", TopicAccess.Write, true)]
    [InlineData("c3", "carol", "b/only", TopicAccess.Read, false)]
    // Patterns: %c and %u, for every client.
    [InlineData("dev7", "carol", "devices/dev7/in", TopicAccess.Read, true)]
    [InlineData("dev7", "carol", "devices/dev7/in", TopicAccess.Write, false)]
    [InlineData("dev7", null, "devices/dev7/out", TopicAccess.Write, true)]
    [InlineData("dev7", null, "devices/dev8/out", TopicAccess.Write, false)]
    [InlineData("c3", "carol", "users/carol/x", TopicAccess.Write, true)]
    [InlineData("c3", "carol", "users/dave/x", TopicAccess.Read, false)]
    [InlineData("c3", "carol", "users/carol/locked", TopicAccess.Read, false)]
    // A %u pattern gives an anonymous client nothing.
    [InlineData("c4", null, "users//x", TopicAccess.Read, false)]
    // A wildcard in the client id would widen the patterns: refused, as Mosquitto does.
    [InlineData("devices/+", null, "public/x", TopicAccess.Read, false)]
    // '#' does not reach $SYS; an explicit line does (after 'user bob' it is bob's).
    [InlineData("c2", "bob", "$SYS/broker/uptime", TopicAccess.Read, true)]
    [InlineData("c1", "alice", "$SYS/broker/uptime", TopicAccess.Read, false)]
    public void Decides_like_mosquitto(string clientId, string? user, string topic, TopicAccess access, bool allowed) =>
        Assert.Equal(allowed, Acl(Example).Check(clientId, user, topic, access));

    /// <summary>As Mosquitto 2: SUBSCRIBE is never refused by the file, even inside a deny or with nothing readable;
    /// what is delivered is filtered by read access, message by message.</summary>
    [Theory]
    [InlineData("c1", "alice", "#")]
    [InlineData("c1", "alice", "x/#")]
    [InlineData("c1", "alice", "a/secret/#")]
    [InlineData("c1", "alice", "$SYS/#")]
    [InlineData("devices/+", null, "public/x")]
    public void Subscriptions_are_never_refused(string clientId, string? user, string filter) =>
        Assert.True(Acl(Example).Check(clientId, user, filter, TopicAccess.Subscribe));

    [Theory]
    [InlineData("c1", "u1", "a/c1-u1/x", true)]
    [InlineData("c1", "u1", "a/c1-u2/x", false)]
    // Filled in once: a user name holding "%c" is taken literally.
    [InlineData("c1", "%c", "a/c1-%c/x", true)]
    [InlineData("c1", "%c", "a/c1-c1/x", false)]
    public void Placeholders_may_sit_inside_a_level(string clientId, string user, string topic, bool allowed)
    {
        var acl = Acl("pattern read a/%c-%u/x");
        Assert.Equal(allowed, acl.Check(clientId, user, topic, TopicAccess.Read));
    }

    [Fact]
    public void An_empty_file_denies_every_publish_and_delivery()
    {
        var acl = Acl("# nothing\n\n");
        Assert.False(acl.Check("c", null, "a", TopicAccess.Read));
        Assert.False(acl.Check("c", "u", "a", TopicAccess.Write));
    }

    [Fact]
    public void A_user_named_twice_keeps_both_sections()
    {
        var acl = Acl("user u\ntopic read x\nuser v\ntopic y\nuser u\ntopic write z");
        Assert.True(acl.Check("c", "u", "x", TopicAccess.Read));
        Assert.True(acl.Check("c", "u", "z", TopicAccess.Write));
        Assert.False(acl.Check("c", "u", "y", TopicAccess.Read));
    }

    [Theory]
    [InlineData("topic read a\ntopic reed b", 2, "topic: unknown access 'reed' (expected read, write, readwrite or deny)")]
    [InlineData("user", 1, "user: missing user name")]
    [InlineData("topic", 1, "topic: missing topic")]
    [InlineData("pattern read a/#/b", 1, "pattern: 'a/#/b' is not a valid topic filter")]
    [InlineData("\n\ntopic a+", 3, "topic: 'a+' is not a valid topic filter")]
    [InlineData("user u\nuser_name v", 2, "unknown line 'user_name' (expected topic, pattern or user)")]
    public void A_bad_line_names_the_file_the_line_and_why(string text, int line, string reason)
    {
        var e = Assert.Throws<ConfigException>(() => Acl(text));
        Assert.Equal($"acl:{line}: {reason}", e.Message);
    }

    [Fact]
    public void A_runaway_line_is_cut_short_in_the_error()
    {
        var e = Assert.Throws<ConfigException>(() => Acl(new string('x', 200_000)));
        Assert.Equal($"acl:1: unknown line '{new string('x', 80)}...' (expected topic, pattern or user)", e.Message);
    }

    [Fact]
    public void An_unreadable_acl_file_stops_startup_at_the_config_line_and_a_bad_line_at_its_own()
    {
        using var dir = new TempDirectory();
        string missing = Path.Combine(dir.Path, "missing.acl");
        var config = ConfigParser.Parse($"listener 1883\npersistence false\nacl_file {missing}\n", "h.conf");
        var e = Assert.Throws<ConfigException>(() => new HoldfastServer(config, NullBrokerLog.Instance));
        Assert.StartsWith($"h.conf:3: acl_file: cannot read {missing}", e.Message);

        string bad = dir.Write("bad.acl", "topic read a\ntopic sometimes b\n");
        config = ConfigParser.Parse($"listener 1883\npersistence false\nacl_file {bad}\n", "h.conf");
        e = Assert.Throws<ConfigException>(() => new HoldfastServer(config, NullBrokerLog.Instance));
        Assert.Equal($"{bad}:2: topic: unknown access 'sometimes' (expected read, write, readwrite or deny)", e.Message);
    }
}
