using System.Text.Json.Nodes;
using static Holdfast.Server.Security.DynamicSecurity.JsonRead;

namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>The "roles" argument of createClient, modifyClient, createGroup and modifyGroup: [{"rolename": "r",
/// "priority": 1}, ...], read as Mosquitto reads it.</summary>
internal static class RoleLinks
{
    public enum Outcome { Read, Absent, RoleNotFound, Invalid }

    /// <summary>Every named role must exist; an entry without a role name, or "roles" not an array, is invalid.</summary>
    public static Outcome Read(DynsecConfig config, JsonObject command, out List<Link> links)
    {
        links = [];
        var roles = Member(command, "roles");
        if (roles is null) return Outcome.Absent;
        if (roles is not JsonArray array) return Outcome.Invalid;
        foreach (var item in array)
        {
            if (String(Member(item, "rolename")) is not { } name) return Outcome.Invalid;
            if (!config.Roles.ContainsKey(name)) return Outcome.RoleNotFound;
            if (!Link.Contains(links, name)) Link.Insert(links, new Link(name, OptionalInt(item, "priority", -1)));
        }
        return Outcome.Read;
    }

    public const string InvalidError = "'roles' not an array or missing/invalid rolename";
}
