using Holdfast.Broker;
using Holdfast.Server.Security.DynamicSecurity;

namespace Holdfast.Server.Tests.DynamicSecurity;

/// <summary>Dynamic security's access decision: the first matching rule in Mosquitto's order decides, then the default.</summary>
public class AclEvaluationTests
{
    private static DynsecConfig Config(string json) => ConfigFile.Parse(System.Text.Encoding.UTF8.GetBytes(json));

    private const string Rules = """
        {
          "defaultACLAccess": { "publishClientSend": false, "publishClientReceive": true, "subscribe": false, "unsubscribe": true },
          "clients": [
            { "username": "alice", "roles": [ { "rolename": "low", "priority": 1 }, { "rolename": "high", "priority": 5 } ] },
            { "username": "bob", "roles": [ { "rolename": "denier" } ] }
          ],
          "groups": [
            { "groupname": "staff", "roles": [ { "rolename": "staff" } ], "clients": [ { "username": "alice" }, { "username": "bob" } ] },
            { "groupname": "guests", "roles": [ { "rolename": "guest" } ] }
          ],
          "anonymousGroup": "guests",
          "roles": [
            { "rolename": "high", "acls": [
              { "acltype": "publishClientSend", "topic": "plant/+/temp", "allow": false },
              { "acltype": "publishClientSend", "topic": "plant/7/temp", "priority": 3, "allow": true } ] },
            { "rolename": "low", "acls": [ { "acltype": "publishClientSend", "topic": "plant/#", "allow": true } ] },
            { "rolename": "denier", "acls": [ { "acltype": "publishClientSend", "topic": "office/#", "allow": false } ] },
            { "rolename": "staff", "acls": [
              { "acltype": "publishClientSend", "topic": "office/#", "allow": true },
              { "acltype": "subscribeLiteral", "topic": "office/#", "allow": false },
              { "acltype": "subscribePattern", "topic": "office/+", "allow": true },
              { "acltype": "unsubscribeLiteral", "topic": "office/locked", "allow": false },
              { "acltype": "publishClientReceive", "topic": "office/secret", "allow": false } ] },
            { "rolename": "guest", "acls": [ { "acltype": "publishClientSend", "topic": "lobby", "allow": true } ] }
          ]
        }
        """;

    [Theory]
    // alice's roles by priority: 'high' (5) first; inside it, the priority-3 rule before the priority-0 one.
    [InlineData("alice", "plant/7/temp", TopicAccess.Write, true)]
    [InlineData("alice", "plant/8/temp", TopicAccess.Write, false)]
    // No rule of 'high' matches: 'low' decides.
    [InlineData("alice", "plant/8/pressure", TopicAccess.Write, true)]
    // Client roles before group roles: bob's own 'denier' wins over the group's grant; alice gets the group's.
    [InlineData("bob", "office/a", TopicAccess.Write, false)]
    [InlineData("alice", "office/a", TopicAccess.Write, true)]
    // Subscribe: a literal rule naming the filter exactly first, then patterns; else the default (no).
    [InlineData("alice", "office/#", TopicAccess.Subscribe, false)]
    [InlineData("alice", "office/a", TopicAccess.Subscribe, true)]
    [InlineData("alice", "plant/#", TopicAccess.Subscribe, null)]
    // Unsubscribe has its own rules and default (yes).
    [InlineData("alice", "office/locked", TopicAccess.Unsubscribe, false)]
    [InlineData("alice", "office/other", TopicAccess.Unsubscribe, true)]
    // Receiving: a deny rule, else the default (yes), except $CONTROL, never granted by default.
    [InlineData("alice", "office/secret", TopicAccess.Read, false)]
    [InlineData("alice", "office/news", TopicAccess.Read, true)]
    [InlineData("alice", "$CONTROL/dynamic-security/v1/response", TopicAccess.Read, null)]
    // An unknown user is not decided here (the next check, or no).
    [InlineData("mallory", "plant/7/temp", TopicAccess.Write, null)]
    [InlineData("mallory", "office/news", TopicAccess.Read, null)]
    // Anonymous clients get the anonymous group's roles, then the defaults.
    [InlineData(null, "lobby", TopicAccess.Write, true)]
    [InlineData(null, "plant/7/temp", TopicAccess.Write, null)]
    [InlineData(null, "office/news", TopicAccess.Read, true)]
    public void The_first_matching_rule_in_Mosquittos_order_decides(string? user, string topic, TopicAccess access, bool? expected) =>
        Assert.Equal(expected, AclEvaluation.Check(Config(Rules), user, topic, access));

    [Fact]
    public void Group_priorities_order_the_groups()
    {
        var config = Config("""
            {
              "clients": [ { "username": "u" } ],
              "groups": [
                { "groupname": "a", "roles": [ { "rolename": "deny" } ], "clients": [ { "username": "u", "priority": 1 } ] },
                { "groupname": "b", "roles": [ { "rolename": "allow" } ], "clients": [ { "username": "u", "priority": 2 } ] }
              ],
              "roles": [
                { "rolename": "deny", "acls": [ { "acltype": "publishClientSend", "topic": "t", "allow": false } ] },
                { "rolename": "allow", "acls": [ { "acltype": "publishClientSend", "topic": "t", "allow": true } ] }
              ]
            }
            """);
        Assert.True(AclEvaluation.Check(config, "u", "t", TopicAccess.Write));
    }

    [Fact]
    public void Defaults_missing_from_the_file_allow_nothing()
    {
        var config = Config("""{ "clients": [ { "username": "u" } ] }""");
        foreach (var access in Enum.GetValues<TopicAccess>())
            Assert.Null(AclEvaluation.Check(config, "u", "t", access));
    }
}
