using System.Text.Json.Nodes;
using static Holdfast.Server.Security.DynamicSecurity.JsonRead;

namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>The dynamic security commands on roles and their rules, with Mosquitto 2.0.11's arguments, answers and
/// kicks (a rule added or removed disconnects everyone holding the role).</summary>
internal static class RoleCommands
{
    public static bool Run(CommandContext c, JsonObject command)
    {
        switch (c.Command.ToLowerInvariant())
        {
            case "createrole": Create(c, command); return true;
            case "deleterole": Delete(c, command); return true;
            case "getrole": Get(c, command); return true;
            case "listroles": List(c, command); return true;
            case "modifyrole": Modify(c, command); return true;
            case "addroleacl": AddAcl(c, command); return true;
            case "removeroleacl": RemoveAcl(c, command); return true;
            default: return false;
        }
    }

    private static DynsecRole? Find(CommandContext c, string roleName, string error = "Role not found")
    {
        if (c.Config.Roles.TryGetValue(roleName, out var role)) return role;
        c.Reply(error);
        return null;
    }

    private static void Create(CommandContext c, JsonObject command)
    {
        if (!ClientCommands.RoleName(c, command, out var roleName)
            || !c.Optional(command, "textname", out var textName)
            || !c.Optional(command, "textdescription", out var textDescription)) return;
        if (c.Config.Roles.ContainsKey(roleName)) { c.Reply("Role already exists"); return; }
        var role = new DynsecRole(roleName) { TextName = textName, TextDescription = textDescription };
        if (Member(command, "acls") is JsonArray acls) role.ReplaceAcls(ConfigFile.ReadAcls(acls));
        c.Config.Roles.Add(roleName, role);
        c.Saved();
        c.Reply();
        c.Logged($"rolename={roleName}");
    }

    private static void Delete(CommandContext c, JsonObject command)
    {
        if (!ClientCommands.RoleName(c, command, out var roleName) || Find(c, roleName) is not { } role) return;
        c.KickRoleHolders(role);
        c.Config.DeleteRole(role);
        c.Saved();
        c.Reply();
        c.Logged($"rolename={roleName}");
    }

    private static void Modify(CommandContext c, JsonObject command)
    {
        if (!ClientCommands.RoleName(c, command, out var roleName) || Find(c, roleName, "Role does not exist") is not { } role) return;
        if (String(Member(command, "textname")) is { } textName) role.TextName = textName;
        if (String(Member(command, "textdescription")) is { } textDescription) role.TextDescription = textDescription;
        if (Member(command, "acls") is JsonArray acls) role.ReplaceAcls(ConfigFile.ReadAcls(acls));
        // Mosquitto 2.0.11 kicks nobody here: the new rules apply from the next check.
        c.Saved();
        c.Reply();
        c.Logged($"rolename={roleName}");
    }

    private static void Get(CommandContext c, JsonObject command)
    {
        if (!ClientCommands.RoleName(c, command, out var roleName) || Find(c, roleName) is not { } role) return;
        c.ReplyData(new JsonObject { ["role"] = DynsecJson.Role(role) });
    }

    private static void List(CommandContext c, JsonObject command)
    {
        bool verbose = OptionalBool(command, "verbose", false);
        var (count, offset) = (OptionalInt(command, "count", -1), OptionalInt(command, "offset", 0));
        var page = Paging.Page(c.Config.Roles.Values, count, offset).Select(role => verbose ? (JsonNode)DynsecJson.Role(role) : role.Name);
        c.ReplyData(new JsonObject { ["totalCount"] = c.Config.Roles.Count, ["roles"] = new JsonArray([.. page]) });
        c.Logged($"verbose={(verbose ? "true" : "false")} | count={count} | offset={offset}");
    }

    /// <summary>The role and the rule list an addRoleACL or removeRoleACL names; answers the first thing wrong.</summary>
    private static bool Target(CommandContext c, JsonObject command, out DynsecRole role, out AclType type)
    {
        role = null!;
        type = default;
        if (!ClientCommands.RoleName(c, command, out var roleName) || Find(c, roleName) is not { } found) return false;
        role = found;
        if (String(Member(command, "acltype")) is not { } typeName)
        {
            c.Reply("Invalid/missing acltype");
            return false;
        }
        if (AclTypeNames.Parse(typeName) is not { } parsed)
        {
            c.Reply("Unknown acltype");
            return false;
        }
        type = parsed;
        return true;
    }

    private static bool Topic(CommandContext c, JsonObject command, out string topic)
    {
        if (!c.Required(command, "topic", out topic) || !c.ValidUtf8(topic, "Topic")) return false;
        if (IsValidAclTopic(topic)) return true;
        c.Reply("Invalid ACL topic");
        return false;
    }

    /// <summary>Mosquitto's check of an ACL topic (mosquitto_sub_topic_check): '+' and '#' fill whole levels, '#' only
    /// the last; an empty topic passes.</summary>
    private static bool IsValidAclTopic(string topic)
    {
        var levels = topic.Split('/');
        for (int i = 0; i < levels.Length; i++)
        {
            if (levels[i].Length > 1 && (levels[i].Contains('+') || levels[i].Contains('#'))) return false;
            if (levels[i] == "#" && i != levels.Length - 1) return false;
        }
        return topic.Length <= 65535;
    }

    private static void AddAcl(CommandContext c, JsonObject command)
    {
        if (!Target(c, command, out var role, out var type) || !Topic(c, command, out var topic)) return;
        var acls = role.Acls[type];
        if (acls.Exists(a => a.Topic == topic)) { c.Reply("ACL with this topic already exists"); return; }
        var acl = new DynsecAcl(topic, OptionalInt(command, "priority", 0), OptionalBool(command, "allow", false));
        DynsecRole.Insert(acls, acl);
        c.Saved();
        c.Reply();
        c.KickRoleHolders(role);
        c.Logged($"rolename={role.Name} | acltype={AclTypeNames.Name(type)} | topic={topic} | priority={acl.Priority} | allow={(acl.Allow ? "true" : "false")}");
    }

    private static void RemoveAcl(CommandContext c, JsonObject command)
    {
        if (!Target(c, command, out var role, out var type) || !Topic(c, command, out var topic)) return;
        if (role.Acls[type].RemoveAll(a => a.Topic == topic) == 0) { c.Reply("ACL not found"); return; }
        c.Saved();
        c.Reply();
        c.KickRoleHolders(role);
        c.Logged($"rolename={role.Name} | acltype={AclTypeNames.Name(type)} | topic={topic}");
    }
}
