using System.CommandLine;
using Holdfast.Tools.Bench;
using Holdfast.Tools.Check;
using Holdfast.Tools.Clients;

namespace Holdfast.Tools;

/// <summary>The client tools as subcommands of the <c>holdfast</c> command: pub, sub, check and bench.</summary>
public static class ToolCommands
{
    /// <summary>The four commands, in help order. pub and sub take mosquitto_pub/sub's <c>-D COMMAND IDENTIFIER VALUE</c>,
    /// which the parser cannot express (three or four values), so those groups leave <paramref name="args"/> first.
    /// Throws <see cref="ArgumentException"/> naming a bad -D group.</summary>
    public static IReadOnlyList<Command> Create(ref string[] args)
    {
        var properties = args is ["pub" or "sub", ..] ? V5Properties.Extract(ref args) : new V5Properties();
        return [PubCommand.Create(properties), SubCommand.Create(properties), CheckCommand.Create(), BenchCommand.Create()];
    }
}
