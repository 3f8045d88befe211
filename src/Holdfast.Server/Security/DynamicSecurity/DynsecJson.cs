using System.Text.Json.Nodes;

namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>Clients, groups and roles as JSON, in the members and order Mosquitto writes them: in the file, and in the
/// answers to getClient, listClients, getGroup, listGroups, getRole and listRoles. Optional texts appear only when set.</summary>
internal static class DynsecJson
{
    /// <summary>The file holds the password (hash, salt, iterations) and group links live with the groups; an answer
    /// holds the client's groups and never its password.</summary>
    public static JsonObject Client(DynsecClient client, bool forFile)
    {
        var json = new JsonObject { ["username"] = client.UserName };
        AddIfSet(json, "clientid", client.ClientId);
        AddIfSet(json, "textname", client.TextName);
        AddIfSet(json, "textdescription", client.TextDescription);
        if (client.Disabled) json["disabled"] = true;
        json["roles"] = Links(client.Roles, "rolename");
        if (!forFile) json["groups"] = Links(client.Groups, "groupname");
        else if (client.Password is { } password)
        {
            json["password"] = Convert.ToBase64String(password.Hash);
            json["salt"] = Convert.ToBase64String(password.Salt);
            json["iterations"] = password.Iterations;
        }
        return json;
    }

    /// <summary>The file keeps each member's priority; an answer lists members by user name only.</summary>
    public static JsonObject Group(DynsecGroup group, bool forFile)
    {
        var json = new JsonObject { ["groupname"] = group.Name };
        AddIfSet(json, "textname", group.TextName);
        AddIfSet(json, "textdescription", group.TextDescription);
        if (forFile)
        {
            json["roles"] = Links(group.Roles, "rolename");
            json["clients"] = Links(group.Clients, "username");
        }
        else
        {
            json["clients"] = new JsonArray([.. group.Clients.Select(c => (JsonNode)new JsonObject { ["username"] = c.Name })]);
            json["roles"] = Links(group.Roles, "rolename");
        }
        return json;
    }

    public static JsonObject Role(DynsecRole role)
    {
        var json = new JsonObject { ["rolename"] = role.Name };
        AddIfSet(json, "textname", role.TextName);
        AddIfSet(json, "textdescription", role.TextDescription);
        var acls = new JsonArray();
        foreach (var type in AclTypeNames.All)
            foreach (var acl in role.Acls[type])
                acls.Add(new JsonObject
                {
                    ["acltype"] = AclTypeNames.Name(type),
                    ["topic"] = acl.Topic,
                    ["priority"] = acl.Priority,
                    ["allow"] = acl.Allow,
                });
        json["acls"] = acls;
        return json;
    }

    /// <summary>[{"rolename": "r", "priority": 2}]: a priority of -1 (none given) is left out.</summary>
    private static JsonArray Links(List<Link> links, string nameMember)
    {
        var array = new JsonArray();
        foreach (var link in links)
        {
            var json = new JsonObject { [nameMember] = link.Name };
            if (link.Priority != -1) json["priority"] = link.Priority;
            array.Add(json);
        }
        return array;
    }

    private static void AddIfSet(JsonObject json, string name, string? value)
    {
        if (value is not null) json[name] = value;
    }
}
