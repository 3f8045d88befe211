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
            // Entries that do not name a known type with a boolean are skipped, as in Mosquitto.
            if (String(Member(item, "acltype")) is not { } name || Member(item, "allow") is not { } allow || !IsBool(allow)) continue;
            if (DefaultAccess.IsName(name)) c.Config.DefaultAccess[name] = allow.GetValue<bool>();
            c.Logged($"acltype={name} | allow={(allow.GetValue<bool>() ? "true" : "false")}");
        }
        c.Saved();
        c.Reply();
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
