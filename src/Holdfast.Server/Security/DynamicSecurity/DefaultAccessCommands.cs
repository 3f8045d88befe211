using System.Text.Json.Nodes;
using static Holdfast.Server.Security.DynamicSecurity.JsonRead;

namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>setDefaultACLAccess and getDefaultACLAccess: what applies when no rule of a client's roles matches.</summary>
internal static class DefaultAccessCommands
{
    public static bool Run(CommandContext c, JsonObject command)
    {
        switch (c.Command.ToLowerInvariant())
        {
            case "setdefaultaclaccess": Set(c, command); return true;
            case "getdefaultaclaccess": Get(c); return true;
            default: return false;
        }
    }

    private static void Set(CommandContext c, JsonObject command)
    {
        if (Member(command, "acls") is not JsonArray acls) { c.Reply("Missing/invalid actions array"); return; }
        foreach (var item in acls)
        {
            // Entries that do not name a type and an access are skipped, as in Mosquitto.
            if (String(Member(item, "acltype")) is not { } name || Allow(item) is not { } allow) continue;
            if (DefaultAccess.IsName(name)) c.Config.DefaultAccess[name] = allow;
            c.Logged($"acltype={name} | allow={(allow ? "true" : "false")}");
        }
        c.Saved();
        c.Reply();
    }

    /// <summary>"allow": true|false as the plugin reads it, or "access": "allow"|"deny" as Debian's mosquitto_ctrl 2.0.11
    /// sends it (its own plugin ignores that form, so `mosquitto_ctrl dynsec setDefaultACLAccess` did nothing there).</summary>
    private static bool? Allow(JsonNode? item)
    {
        if (Member(item, "allow") is { } allow && IsBool(allow)) return allow.GetValue<bool>();
        return String(Member(item, "access"))?.ToLowerInvariant() switch
        {
            "allow" => true,
            "deny" => false,
            _ => null,
        };
    }

    private static void Get(CommandContext c)
    {
        var acls = new JsonArray();
        foreach (var name in DefaultAccess.Names)
            acls.Add(new JsonObject { ["acltype"] = name, ["allow"] = c.Config.DefaultAccess[name] });
        c.ReplyData(new JsonObject { ["acls"] = acls });
        c.Logged("");
    }
}
