using System.Text;
using System.Text.Json.Nodes;
using Holdfast.Broker;
using static Holdfast.Server.Security.DynamicSecurity.JsonRead;

namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>
/// The $CONTROL/dynamic-security/v1 API, as Mosquitto's plugin serves it: a message {"commands": [{"command": ...}, ...]}
/// runs its commands in order (command names match without regard to case) and gets one answer,
/// {"responses": [...]}, one entry per command, on <see cref="ResponseTopic"/>.
/// </summary>
internal static class ControlApi
{
    public const string Topic = "$CONTROL/dynamic-security/v1";
    public const string ResponseTopic = Topic + "/response";

    /// <summary>Runs the commands of <paramref name="payload"/> against <paramref name="config"/>; the context says what
    /// changed, whom to kick and what to answer.</summary>
    public static CommandContext Run(DynsecConfig config, ReadOnlySpan<byte> payload, string clientId, string? userName, IBrokerLog log)
    {
        var c = new CommandContext(config, clientId, userName, log);
        var tree = Parse(payload);
        if (tree is null)
        {
            c.Command = "Unknown command";
            c.Reply("Payload not valid JSON");
            return c;
        }
        if (Member(tree, "commands") is not JsonArray commands)
        {
            c.Command = "Unknown command";
            c.Reply("Invalid/missing commands");
            return c;
        }
        foreach (var item in commands)
        {
            c.CorrelationData = null;
            c.Command = "Unknown command";
            if (item is not JsonObject command) { c.Reply("Command not an object"); continue; }
            if (String(Member(command, "command")) is not { } name) { c.Reply("Missing command"); continue; }
            c.Command = name;
            if (!TryOptionalString(command, "correlationData", out var correlationData))
            {
                // Mosquitto stops at this one: the commands after it are not run.
                c.Reply("Invalid correlationData data type.");
                break;
            }
            c.CorrelationData = correlationData;
            if (!DefaultAccessCommands.Run(c, command) && !ClientCommands.Run(c, command) && !GroupCommands.Run(c, command)
                && !RoleCommands.Run(c, command))
                c.Reply("Unknown command");
        }
        return c;
    }

    public static byte[] Response(CommandContext c) =>
        Encoding.UTF8.GetBytes(new JsonObject { ["responses"] = c.Responses }.ToJsonString());
}
