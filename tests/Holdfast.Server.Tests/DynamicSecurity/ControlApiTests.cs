using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Broker;
using Holdfast.Server.Security.DynamicSecurity;

namespace Holdfast.Server.Tests.DynamicSecurity;

/// <summary>The $CONTROL/dynamic-security/v1 commands: Mosquitto's answers, what they change, whom they kick.</summary>
public class ControlApiTests
{
    private readonly DynsecConfig _config = new();

    private CommandContext Run(string json) =>
        ControlApi.Run(_config, Encoding.UTF8.GetBytes(json), "admin-client", "admin", NullBrokerLog.Instance);

    private JsonNode Responses(string json) => JsonNode.Parse(ControlApi.Response(Run(json)))!["responses"]!;

    [Fact]
    public void Commands_run_in_order_and_each_is_answered()
    {
        var done = Run("""
            {"commands": [
              {"command": "createRole", "rolename": "sensor"},
              {"command": "addRoleACL", "rolename": "sensor", "acltype": "publishClientSend", "topic": "plant/#", "allow": true},
              {"command": "createClient", "username": "s1", "password": "pw", "correlationData": "7"},
              {"command": "addClientRole", "username": "s1", "rolename": "sensor", "priority": 2},
              {"command": "createClient", "username": "s1"}
            ]}
            """);
        Assert.Equal(
            """[{"command":"createRole"},{"command":"addRoleACL"},{"command":"createClient","correlationData":"7"},{"command":"addClientRole"},{"command":"createClient","error":"Client already exists"}]""",
            done.Responses.ToJsonString());
        Assert.True(done.Changed);
        Assert.Equal(["s1"], done.KickedUsers);
        Assert.True(AclEvaluation.Check(_config, "s1", "plant/7", TopicAccess.Write));
        Assert.True(_config.Clients["s1"].Password!.Verify("pw"u8));
    }

    [Fact]
    public void Reading_commands_change_nothing()
    {
        Run("""{"commands": [{"command": "createClient", "username": "u", "textname": "U"}]}""");
        var done = Run("""{"commands": [{"command": "listClients", "verbose": true}, {"command": "getDefaultACLAccess"}]}""");
        Assert.False(done.Changed);
        Assert.Equal(
            """{"command":"listClients","data":{"totalCount":1,"clients":[{"username":"u","textname":"U","roles":[],"groups":[]}]}}""",
            done.Responses[0]!.ToJsonString());
        Assert.Equal(4, done.Responses[1]!["data"]!["acls"]!.AsArray().Count);
    }

    [Theory]
    [InlineData("\"not json\"", """[{"command":"Unknown command","error":"Invalid/missing commands"}]""")]
    [InlineData("not json", """[{"command":"Unknown command","error":"Payload not valid JSON"}]""")]
    [InlineData("""{"commands": ["bad"]}""", """[{"command":"Unknown command","error":"Command not an object"}]""")]
    [InlineData("""{"commands": [{"command": 6}]}""", """[{"command":"Unknown command","error":"Missing command"}]""")]
    [InlineData("""{"commands": [{"command": "x", "correlationData": 6}, {"command": "listRoles"}]}""",
        """[{"command":"x","error":"Invalid correlationData data type."}]""")]
    [InlineData("""{"commands": [{"command": "listRoles", "Command": "x"}]}""", """[{"command":"Unknown command","error":"Payload not valid JSON"}]""")]
    [InlineData("""{"commands": [{"command": "nope"}]}""", """[{"command":"nope","error":"Unknown command"}]""")]
    [InlineData("""{"commands": [{"command": "createClient", "username": "\uFFFFLO"}]}""",
        """[{"command":"createClient","error":"Username not valid UTF-8"}]""")]
    [InlineData("""{"commands": [{"command": "setClientPassword", "username": "u", "password": ""}]}""",
        """[{"command":"setClientPassword","error":"Empty password is not allowed"}]""")]
    [InlineData("""{"commands": [{"command": "deleteGroup", "groupname": "g"}]}""", """[{"command":"deleteGroup","error":"Group not found"}]""")]
    [InlineData("""{"commands": [{"command": "modifyRole", "rolename": "r"}]}""", """[{"command":"modifyRole","error":"Role does not exist"}]""")]
    [InlineData("""{"commands": [{"command": "setDefaultACLAccess"}]}""",
        """[{"command":"setDefaultACLAccess","error":"Missing/invalid actions array"}]""")]
    public void Bad_requests_get_Mosquittos_errors(string json, string expected) =>
        Assert.Equal(expected, Responses(json).ToJsonString());

    [Fact]
    public void A_change_to_a_group_or_role_kicks_everyone_it_applies_to()
    {
        Run("""
            {"commands": [
              {"command": "createRole", "rolename": "r"},
              {"command": "createClient", "username": "a"}, {"command": "createClient", "username": "b"},
              {"command": "createGroup", "groupname": "g", "roles": [{"rolename": "r"}]},
              {"command": "addGroupClient", "groupname": "g", "username": "a"},
              {"command": "setAnonymousGroup", "groupname": "g"}
            ]}
            """);
        var done = Run("""{"commands": [{"command": "addRoleACL", "rolename": "r", "acltype": "subscribePattern", "topic": "#", "allow": true}]}""");
        Assert.Equal(["a"], done.KickedUsers);
        Assert.True(done.KickAnonymous);
        done = Run("""{"commands": [{"command": "deleteGroup", "groupname": "g"}, {"command": "getAnonymousGroup"}]}""");
        Assert.Equal(["a"], done.KickedUsers);
        Assert.Equal("", (string?)done.Responses[1]!["data"]!["group"]!["groupname"]);
        Assert.Empty(_config.Clients["a"].Groups);
    }

    [Fact]
    public void Disable_and_delete_kick_the_user()
    {
        Run("""{"commands": [{"command": "createClient", "username": "u", "password": "p"}]}""");
        Assert.Equal(["u"], Run("""{"commands": [{"command": "disableClient", "username": "u"}]}""").KickedUsers);
        Assert.True(_config.Clients["u"].Disabled);
        Assert.Empty(Run("""{"commands": [{"command": "enableClient", "username": "u"}]}""").KickedUsers);
        Assert.Equal(["u"], Run("""{"commands": [{"command": "deleteClient", "username": "u"}]}""").KickedUsers);
        Assert.Empty(_config.Clients);
    }
}
