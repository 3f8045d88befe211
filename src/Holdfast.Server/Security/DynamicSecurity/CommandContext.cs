using System.Text.Json.Nodes;
using Holdfast.Broker;
using static Holdfast.Server.Security.DynamicSecurity.JsonRead;

namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>
/// One $CONTROL/dynamic-security/v1 message being run: the config it changes, the answers so far, and what must happen
/// once all its commands ran (save the file, kick the clients a change concerns). Commands find their arguments and
/// answer through it, with Mosquitto's error strings.
/// </summary>
internal sealed class CommandContext(DynsecConfig config, string adminClientId, string? adminUserName, IBrokerLog log)
{
    public DynsecConfig Config { get; } = config;
    public JsonArray Responses { get; } = [];
    /// <summary>Whether a command changed the config, so that the file must be saved.</summary>
    public bool Changed { get; private set; }
    public HashSet<string> KickedUsers { get; } = new(StringComparer.Ordinal);
    /// <summary>Whether clients without a user name must be kicked (the anonymous group changed).</summary>
    public bool KickAnonymous { get; private set; }

    /// <summary>The command being run and its correlationData, for the answer.</summary>
    public string Command { get; set; } = "";
    public string? CorrelationData { get; set; }

    public void Saved() => Changed = true;

    public void Kick(string userName) => KickedUsers.Add(userName);

    /// <summary>Everyone a group's roles apply to: its members, and anonymous clients when it is the anonymous group.</summary>
    public void KickGroup(DynsecGroup group)
    {
        if (group.Name == Config.AnonymousGroup) KickAnonymous = true;
        foreach (var member in group.Clients) KickedUsers.Add(member.Name);
    }

    public void KickRoleHolders(DynsecRole role)
    {
        var (users, anonymous) = Config.HoldersOf(role);
        KickedUsers.UnionWith(users);
        KickAnonymous |= anonymous;
    }

    public void KickAllAnonymous() => KickAnonymous = true;

    /// <summary>Answers the command: success without <paramref name="error"/>.</summary>
    public void Reply(string? error = null)
    {
        var response = new JsonObject { ["command"] = Command };
        if (error is not null) response["error"] = error;
        if (CorrelationData is not null) response["correlationData"] = CorrelationData;
        Responses.Add(response);
    }

    public void ReplyData(JsonObject data)
    {
        var response = new JsonObject { ["command"] = Command, ["data"] = data };
        if (CorrelationData is not null) response["correlationData"] = CorrelationData;
        Responses.Add(response);
    }

    /// <summary>Logs what an administrator did, as Mosquitto's plugin does: "dynsec: client/user | command | ...".</summary>
    public void Logged(string details)
    {
        if (log.IsEnabled(LogType.Information))
            log.Info($"dynsec: {adminClientId}/{adminUserName ?? "(null)"} | {Command}{(details.Length > 0 ? " | " + details : "")}");
    }

    /// <summary>A required string argument; answers "Invalid/missing NAME" (or <paramref name="error"/>) when absent or not a string.</summary>
    public bool Required(JsonObject command, string name, out string value, string? error = null)
    {
        value = String(Member(command, name)) ?? "";
        if (IsString(Member(command, name))) return true;
        Reply(error ?? $"Invalid/missing {name}");
        return false;
    }

    /// <summary>An optional string argument: null when absent; answers "Invalid/missing NAME" when not a string.</summary>
    public bool Optional(JsonObject command, string name, out string? value, string? error = null)
    {
        if (TryOptionalString(command, name, out value)) return true;
        Reply(error ?? $"Invalid/missing {name}");
        return false;
    }

    /// <summary>Mosquitto's UTF-8 rule for names and topics; answers "WHAT not valid UTF-8" when broken.</summary>
    public bool ValidUtf8(string value, string what)
    {
        if (Utf8Rules.IsValid(value)) return true;
        Reply($"{what} not valid UTF-8");
        return false;
    }
}
