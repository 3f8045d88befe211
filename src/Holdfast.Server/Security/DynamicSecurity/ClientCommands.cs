using System.Text.Json.Nodes;
using static Holdfast.Server.Security.DynamicSecurity.JsonRead;

namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>The dynamic security commands on clients (user names that may connect), with Mosquitto 2.0.11's arguments,
/// answers and kicks: a change that concerns a connected user disconnects it, so that it reconnects under the new rules.</summary>
internal static class ClientCommands
{
    public static bool Run(CommandContext c, JsonObject command)
    {
        switch (c.Command.ToLowerInvariant())
        {
            case "createclient": Create(c, command); return true;
            case "deleteclient": Delete(c, command); return true;
            case "getclient": Get(c, command); return true;
            case "listclients": List(c, command); return true;
            case "modifyclient": Modify(c, command); return true;
            case "setclientpassword": SetPassword(c, command); return true;
            case "setclientid": SetId(c, command); return true;
            case "addclientrole": AddRole(c, command); return true;
            case "removeclientrole": RemoveRole(c, command); return true;
            case "enableclient": SetDisabled(c, command, false); return true;
            case "disableclient": SetDisabled(c, command, true); return true;
            default: return false;
        }
    }

    private static bool UserName(CommandContext c, JsonObject command, out string userName) =>
        c.Required(command, "username", out userName) && c.ValidUtf8(userName, "Username");

    private static DynsecClient? Find(CommandContext c, string userName)
    {
        if (c.Config.Clients.TryGetValue(userName, out var client)) return client;
        c.Reply("Client not found");
        return null;
    }

    private static void Create(CommandContext c, JsonObject command)
    {
        if (!UserName(c, command, out var userName)
            || !c.Optional(command, "password", out var password)
            || !c.Optional(command, "clientid", out var clientId, "Invalid/missing client id")
            || (clientId is not null && !c.ValidUtf8(clientId, "Client ID"))
            || !c.Optional(command, "textname", out var textName)
            || !c.Optional(command, "textdescription", out var textDescription)) return;
        if (c.Config.Clients.ContainsKey(userName)) { c.Reply("Client already exists"); return; }
        var client = new DynsecClient(userName)
        {
            TextName = textName,
            TextDescription = textDescription,
            Password = password is null ? null : PasswordHash.Create(password),
            ClientId = string.IsNullOrEmpty(clientId) ? null : clientId,
        };
        switch (RoleLinks.Read(c.Config, command, out var roles))
        {
            case RoleLinks.Outcome.RoleNotFound: c.Reply("Role not found"); return;
            case RoleLinks.Outcome.Invalid: c.Reply(RoleLinks.InvalidError); return;
        }
        client.Roles.AddRange(roles);
        c.Config.Clients.Add(userName, client);
        if (Member(command, "groups") is JsonArray groups)
            foreach (var item in groups)
            {
                if (item is not JsonObject || String(Member(item, "groupname")) is not { } groupName) continue;
                // As Mosquitto: a group that is missing (or named twice) undoes the whole command.
                string? error = !c.Config.Groups.TryGetValue(groupName, out var group) ? "Group not found"
                    : !DynsecConfig.AddGroupClient(group, client, OptionalInt(item, "priority", -1)) ? "Internal error" : null;
                if (error is null) continue;
                c.Config.DeleteClient(client);
                c.Reply(error);
                return;
            }
        c.Saved();
        c.Reply();
        c.Logged($"username={userName} | password={(password is null ? "no password" : "*****")}");
    }

    private static void Delete(CommandContext c, JsonObject command)
    {
        // Mosquitto checks no UTF-8 here: any name that exists can go.
        if (!c.Required(command, "username", out var userName) || Find(c, userName) is not { } client) return;
        c.Config.DeleteClient(client);
        c.Saved();
        c.Reply();
        c.Kick(userName);
        c.Logged($"username={userName}");
    }

    private static void SetDisabled(CommandContext c, JsonObject command, bool disabled)
    {
        if (!UserName(c, command, out var userName) || Find(c, userName) is not { } client) return;
        client.Disabled = disabled;
        if (disabled) c.Kick(userName);
        c.Saved();
        c.Reply();
        c.Logged($"username={userName}");
    }

    private static void SetId(CommandContext c, JsonObject command)
    {
        if (!UserName(c, command, out var userName)
            || !c.Optional(command, "clientid", out var clientId, "Invalid/missing client ID")
            || (clientId is not null && !c.ValidUtf8(clientId, "Client ID"))
            || Find(c, userName) is not { } client) return;
        client.ClientId = string.IsNullOrEmpty(clientId) ? null : clientId;
        c.Saved();
        c.Reply();
        c.Kick(userName);
        c.Logged($"username={userName} | clientid={client.ClientId ?? "(null)"}");
    }

    private static void SetPassword(CommandContext c, JsonObject command)
    {
        if (!UserName(c, command, out var userName) || !c.Required(command, "password", out var password)) return;
        if (password.Length == 0) { c.Reply("Empty password is not allowed"); return; }
        if (Find(c, userName) is not { } client) return;
        client.Password = PasswordHash.Create(password);
        c.Saved();
        c.Reply();
        c.Kick(userName);
        c.Logged($"username={userName} | password=******");
    }

    private static void Modify(CommandContext c, JsonObject command)
    {
        if (!UserName(c, command, out var userName) || Find(c, userName) is not { } client) return;
        // Each argument present as a string replaces what was there; one of another type is ignored, as in Mosquitto.
        if (String(Member(command, "clientid")) is { } clientId) client.ClientId = clientId.Length > 0 ? clientId : null;
        if (String(Member(command, "password")) is { Length: > 0 } password) client.Password = PasswordHash.Create(password);
        if (String(Member(command, "textname")) is { } textName) client.TextName = textName;
        if (String(Member(command, "textdescription")) is { } textDescription) client.TextDescription = textDescription;
        switch (RoleLinks.Read(c.Config, command, out var roles))
        {
            case RoleLinks.Outcome.Read:
                client.Roles.Clear();
                client.Roles.AddRange(roles);
                break;
            case RoleLinks.Outcome.RoleNotFound: c.Reply("Role not found"); c.Kick(userName); return;
            case RoleLinks.Outcome.Invalid: c.Reply(RoleLinks.InvalidError); c.Kick(userName); return;
        }
        if (Member(command, "groups") is JsonArray)
        {
            c.Config.RemoveClientFromAllGroups(client);
            foreach (var link in ConfigFile.ReadLinks(command, "groups", "groupname"))
                if (c.Config.Groups.TryGetValue(link.Name, out var group)) DynsecConfig.AddGroupClient(group, client, link.Priority);
        }
        c.Saved();
        c.Reply();
        c.Kick(userName);
        c.Logged($"username={userName}");
    }

    private static void Get(CommandContext c, JsonObject command)
    {
        if (!UserName(c, command, out var userName) || Find(c, userName) is not { } client) return;
        c.ReplyData(new JsonObject { ["client"] = DynsecJson.Client(client, forFile: false) });
        c.Logged($"username={userName}");
    }

    private static void List(CommandContext c, JsonObject command)
    {
        bool verbose = OptionalBool(command, "verbose", false);
        var (count, offset) = (OptionalInt(command, "count", -1), OptionalInt(command, "offset", 0));
        var page = Paging.Page(c.Config.Clients.Values, count, offset)
            .Select(client => verbose ? (JsonNode)DynsecJson.Client(client, forFile: false) : client.UserName);
        c.ReplyData(new JsonObject { ["totalCount"] = c.Config.Clients.Count, ["clients"] = new JsonArray([.. page]) });
        c.Logged($"verbose={(verbose ? "true" : "false")} | count={count} | offset={offset}");
    }

    private static void AddRole(CommandContext c, JsonObject command)
    {
        if (!UserName(c, command, out var userName) || !RoleName(c, command, out var roleName)) return;
        int priority = OptionalInt(command, "priority", -1);
        if (Find(c, userName) is not { } client) return;
        if (!c.Config.Roles.ContainsKey(roleName)) { c.Reply("Role not found"); return; }
        // Mosquitto answers a role the client already has this way.
        if (Link.Contains(client.Roles, roleName)) { c.Reply("Internal error"); return; }
        Link.Insert(client.Roles, new Link(roleName, priority));
        c.Saved();
        c.Reply();
        c.Kick(userName);
        c.Logged($"username={userName} | rolename={roleName} | priority={priority}");
    }

    private static void RemoveRole(CommandContext c, JsonObject command)
    {
        if (!UserName(c, command, out var userName) || !RoleName(c, command, out var roleName) || Find(c, userName) is not { } client) return;
        if (!c.Config.Roles.ContainsKey(roleName)) { c.Reply("Role not found"); return; }
        Link.Remove(client.Roles, roleName);
        c.Saved();
        c.Reply();
        c.Kick(userName);
        c.Logged($"username={userName} | rolename={roleName}");
    }

    public static bool RoleName(CommandContext c, JsonObject command, out string roleName) =>
        c.Required(command, "rolename", out roleName) && c.ValidUtf8(roleName, "Role name");
}
