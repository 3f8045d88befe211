using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Broker;
using Holdfast.Server.Security.DynamicSecurity;

namespace Holdfast.Server.Tests.DynamicSecurity;

/// <summary>The dynamic security JSON file: read as Mosquitto reads it, written so that it reads back the same.</summary>
public class ConfigFileTests
{
    // Salt 01..0C and PBKDF2-HMAC-SHA512("secret", salt, 101), computed with Python's hashlib.
    private const string File = """
        {
          "clients": [ {
              "username": "admin", "textName": "Admin", "clientid": "console",
              "password": "ElKF/yT2lAwrOIqDbqwyDkdEWWjEv9xNCPp7zaw7NgKePlIs4CqOpY89+U/jSu9Z0ymojy1xkdWS2VfMzvRKZw==",
              "salt": "AQIDBAUGBwgJCgsM", "iterations": 101,
              "roles": [ { "rolename": "admin" }, { "rolename": "missing" } ] },
            { "username": "broken", "password": "AAAA", "salt": "AQIDBAUGBwgJCgsM", "iterations": 101 },
            { "textname": "no user name" },
            { "username": "off", "disabled": true, "roles": [ { "rolename": "admin", "priority": 4 } ] } ],
          "groups": [ { "groupname": "ops", "textdescription": "Operators", "roles": [ { "rolename": "admin", "priority": 2 } ],
                        "clients": [ { "username": "off", "priority": 3 }, { "username": "ghost" } ] } ],
          "anonymousGroup": "ops",
          "roles": [ { "rolename": "admin", "acls": [
              { "acltype": "publishClientSend", "topic": "$CONTROL/dynamic-security/#", "allow": true },
              { "acltype": "subscribePattern", "topic": "#", "priority": 2, "allow": true },
              { "acltype": "nonsense", "topic": "x", "allow": true } ] } ],
          "defaultACLAccess": { "publishClientSend": false, "publishClientReceive": true, "subscribe": false, "unsubscribe": true }
        }
        """;

    private static DynsecConfig Parse(string json) => ConfigFile.Parse(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void Reads_Mosquittos_format_as_Mosquitto_does()
    {
        var config = Parse(File);
        var admin = config.Clients["admin"];
        // Member names match without regard to case (Mosquitto's own test file says "textName").
        Assert.Equal("Admin", admin.TextName);
        Assert.Equal("console", admin.ClientId);
        Assert.True(admin.Password!.Verify("secret"u8));
        Assert.False(admin.Password.Verify("Secret"u8));
        // A link to a role that does not exist is dropped; so is a client whose password does not decode.
        Assert.Equal(["admin"], admin.Roles.Select(r => r.Name));
        Assert.Equal(["admin", "off"], config.Clients.Keys);
        Assert.True(config.Clients["off"].Disabled);
        Assert.Equal(["ops"], config.Clients["off"].Groups.Select(g => g.Name));
        Assert.Equal(["off"], config.Groups["ops"].Clients.Select(c => c.Name));
        Assert.Equal("ops", config.AnonymousGroup);
        Assert.Equal(["#"], config.Roles["admin"].Acls[AclType.SubscribePattern].Select(a => a.Topic));
        Assert.True(config.DefaultAccess[DefaultAccess.PublishClientReceive]);
        Assert.False(config.DefaultAccess[DefaultAccess.Subscribe]);
    }

    [Fact]
    public void What_is_saved_reads_back_the_same()
    {
        var config = Parse(File);
        var saved = ConfigFile.Serialize(config);
        var again = ConfigFile.Parse(saved);
        Assert.Equal(Encoding.UTF8.GetString(saved), Encoding.UTF8.GetString(ConfigFile.Serialize(again)));
        Assert.True(again.Clients["admin"].Password!.Verify("secret"u8));
        Assert.Equal(AclEvaluation.Check(config, "off", "a/b", TopicAccess.Subscribe), AclEvaluation.Check(again, "off", "a/b", TopicAccess.Subscribe));
        // Mosquitto's members and their order.
        var tree = JsonNode.Parse(saved)!.AsObject();
        Assert.Equal(["defaultACLAccess", "clients", "groups", "anonymousGroup", "roles"], tree.Select(m => m.Key));
        Assert.Equal(["username", "clientid", "textname", "roles", "password", "salt", "iterations"], tree["clients"]![0]!.AsObject().Select(m => m.Key));
        Assert.Equal(3, (int)tree["groups"]![0]!["clients"]![0]!["priority"]!);
    }

    [Fact]
    public void Save_replaces_the_file_whole()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "dynamic-security.json");
        System.IO.File.WriteAllText(path, File);
        var config = ConfigFile.Load(path);
        config.Clients.Remove("off");
        ConfigFile.Save(config, path);
        Assert.Equal(["admin"], ConfigFile.Load(path).Clients.Keys);
        Assert.False(System.IO.File.Exists(path + ".new"));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{ "clients": {} }""")]
    [InlineData("""{ "roles": "admin" }""")]
    public void A_file_that_is_not_dynamic_security_JSON_is_refused(string json) =>
        Assert.Throws<InvalidDataException>(() => Parse(json));

    [Fact]
    public void An_empty_file_is_an_empty_config() => Assert.Empty(ConfigFile.Parse([]).Clients);
}
