using System.Text.Json.Nodes;
using static Holdfast.Server.Security.DynamicSecurity.JsonRead;

namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>The dynamic security commands on groups and the anonymous group, with Mosquitto 2.0.11's arguments, answers
/// and kicks.</summary>
internal static class GroupCommands
{
    public static bool Run(CommandContext c, JsonObject command)
    {
        switch (c.Command.ToLowerInvariant())
        {
            case "creategroup": Create(c, command); return true;
            case "deletegroup": Delete(c, command); return true;
            case "getgroup": Get(c, command); return true;
            case "listgroups": List(c, command); return true;
            case "modifygroup": Modify(c, command); return true;
            case "addgroupclient": AddClient(c, command); return true;
            case "removegroupclient": RemoveClient(c, command); return true;
            case "addgrouprole": AddRole(c, command); return true;
            case "removegrouprole": RemoveRole(c, command); return true;
            case "setanonymousgroup": SetAnonymous(c, command); return true;
            case "getanonymousgroup": GetAnonymous(c); return true;
            default: return false;
        }
    }

    private static bool GroupName(CommandContext c, JsonObject command, out string groupName) =>
        c.Required(command, "groupname", out groupName) && c.ValidUtf8(groupName, "Group name");

    private static DynsecGroup? Find(CommandContext c, string groupName)
    {
        if (c.Config.Groups.TryGetValue(groupName, out var group)) return group;
        c.Reply("Group not found");
        return null;
    }

    private static void Create(CommandContext c, JsonObject command)
    {
        if (!GroupName(c, command, out var groupName)
            || !c.Optional(command, "textname", out var textName)
            || !c.Optional(command, "textdescription", out var textDescription)) return;
        if (c.Config.Groups.ContainsKey(groupName)) { c.Reply("Group already exists"); return; }
        switch (RoleLinks.Read(c.Config, command, out var roles))
        {
            case RoleLinks.Outcome.RoleNotFound: c.Reply("Role not found"); return;
            case RoleLinks.Outcome.Invalid: c.Reply("Internal error"); return;
        }
        var group = new DynsecGroup(groupName) { TextName = textName, TextDescription = textDescription };
        group.Roles.AddRange(roles);
        c.Config.Groups.Add(groupName, group);
        c.Saved();
        c.Reply();
        c.Logged($"groupname={groupName}");
    }

    private static void Delete(CommandContext c, JsonObject command)
    {
        if (!GroupName(c, command, out var groupName) || Find(c, groupName) is not { } group) return;
        c.KickGroup(group);
        c.Config.DeleteGroup(group);
        c.Saved();
        c.Reply();
        c.Logged($"groupname={groupName}");
    }

    private static void AddClient(CommandContext c, JsonObject command)
    {
        if (!c.Required(command, "username", out var userName) || !c.ValidUtf8(userName, "Username")
            || !GroupName(c, command, out var groupName)) return;
        int priority = OptionalInt(command, "priority", -1);
        if (!c.Config.Clients.TryGetValue(userName, out var client)) c.Reply("Client not found");
        else if (!c.Config.Groups.TryGetValue(groupName, out var group)) c.Reply("Group not found");
        else if (!DynsecConfig.AddGroupClient(group, client, priority)) c.Reply("Client is already in this group");
        else
        {
            c.Saved();
            c.Logged($"groupname={groupName} | username={userName} | priority={priority}");
            c.Reply();
        }
        // Mosquitto kicks the user whatever the outcome.
        c.Kick(userName);
    }

    private static void RemoveClient(CommandContext c, JsonObject command)
    {
        if (!c.Required(command, "username", out var userName) || !c.ValidUtf8(userName, "Username")
            || !GroupName(c, command, out var groupName)) return;
        if (!c.Config.Clients.TryGetValue(userName, out var client)) c.Reply("Client not found");
        else if (!c.Config.Groups.TryGetValue(groupName, out var group)) c.Reply("Group not found");
        else
        {
            DynsecConfig.RemoveGroupClient(group, client);
            c.Saved();
            c.Logged($"groupname={groupName} | username={userName}");
            c.Reply();
        }
        c.Kick(userName);
    }

    private static void AddRole(CommandContext c, JsonObject command)
    {
        if (!GroupName(c, command, out var groupName) || !ClientCommands.RoleName(c, command, out var roleName)) return;
        int priority = OptionalInt(command, "priority", -1);
        if (Find(c, groupName) is not { } group) return;
        if (!c.Config.Roles.ContainsKey(roleName)) { c.Reply("Role not found"); return; }
        if (Link.Contains(group.Roles, roleName)) { c.Reply("Group is already in this role"); return; }
        Link.Insert(group.Roles, new Link(roleName, priority));
        c.Logged($"groupname={groupName} | rolename={roleName} | priority={priority}");
        c.Saved();
        c.Reply();
        c.KickGroup(group);
    }

    private static void RemoveRole(CommandContext c, JsonObject command)
    {
        if (!GroupName(c, command, out var groupName) || !ClientCommands.RoleName(c, command, out var roleName)
            || Find(c, groupName) is not { } group) return;
        if (!c.Config.Roles.ContainsKey(roleName)) { c.Reply("Role not found"); return; }
        Link.Remove(group.Roles, roleName);
        c.Saved();
        c.Reply();
        c.KickGroup(group);
        c.Logged($"groupname={groupName} | rolename={roleName}");
    }

    private static void Modify(CommandContext c, JsonObject command)
    {
        if (!GroupName(c, command, out var groupName) || Find(c, groupName) is not { } group) return;
        if (String(Member(command, "textname")) is { } textName) group.TextName = textName;
        if (String(Member(command, "textdescription")) is { } textDescription) group.TextDescription = textDescription;
        switch (RoleLinks.Read(c.Config, command, out var roles))
        {
            case RoleLinks.Outcome.Read:
                group.Roles.Clear();
                group.Roles.AddRange(roles);
                break;
            case RoleLinks.Outcome.RoleNotFound: c.Reply("Role not found"); c.KickGroup(group); return;
            case RoleLinks.Outcome.Invalid: c.Reply(RoleLinks.InvalidError); c.KickGroup(group); return;
        }
        if (Member(command, "clients") is JsonArray)
        {
            // Those who leave the group are kicked too: its roles no longer apply to them.
            c.KickGroup(group);
            foreach (var member in group.Clients.ToList())
                if (c.Config.Clients.TryGetValue(member.Name, out var client)) DynsecConfig.RemoveGroupClient(group, client);
            foreach (var link in ConfigFile.ReadLinks(command, "clients", "username"))
                if (c.Config.Clients.TryGetValue(link.Name, out var client)) DynsecConfig.AddGroupClient(group, client, link.Priority);
        }
        c.Saved();
        c.Reply();
        c.KickGroup(group);
        c.Logged($"groupname={groupName}");
    }

    private static void Get(CommandContext c, JsonObject command)
    {
        if (!GroupName(c, command, out var groupName) || Find(c, groupName) is not { } group) return;
        c.ReplyData(new JsonObject { ["group"] = DynsecJson.Group(group, forFile: false) });
        c.Logged($"groupname={groupName}");
    }

    private static void List(CommandContext c, JsonObject command)
    {
        bool verbose = OptionalBool(command, "verbose", false);
        var (count, offset) = (OptionalInt(command, "count", -1), OptionalInt(command, "offset", 0));
        var page = Paging.Page(c.Config.Groups.Values, count, offset)
            .Select(group => verbose ? (JsonNode)DynsecJson.Group(group, forFile: false) : group.Name);
        c.ReplyData(new JsonObject { ["totalCount"] = c.Config.Groups.Count, ["groups"] = new JsonArray([.. page]) });
        c.Logged($"verbose={(verbose ? "true" : "false")} | count={count} | offset={offset}");
    }

    private static void SetAnonymous(CommandContext c, JsonObject command)
    {
        if (!GroupName(c, command, out var groupName) || Find(c, groupName) is null) return;
        c.Config.AnonymousGroup = groupName;
        c.Saved();
        c.Reply();
        c.KickAllAnonymous();
        c.Logged($"groupname={groupName}");
    }

    private static void GetAnonymous(CommandContext c)
    {
        c.ReplyData(new JsonObject { ["group"] = new JsonObject { ["groupname"] = c.Config.AnonymousGroup ?? "" } });
        c.Logged("");
    }
}
