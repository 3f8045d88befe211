using System.CommandLine;
using System.CommandLine.Help;
using Holdfast.Cli;
using Holdfast.Tools;

IReadOnlyList<Command> tools;
try { tools = ToolCommands.Create(ref args); }
catch (ArgumentException e) { Console.Error.WriteLine($"Error: {e.Message}"); return ToolAction.UsageError; }

var root = new RootCommand("Holdfast: an MQTT 3.1.1 and 5.0 broker that does not lose acknowledged messages.");
// -h is the host in mosquitto_pub and mosquitto_sub, so help keeps only --help and -?.
foreach (var help in root.Options.OfType<HelpOption>()) help.Aliases.Remove("-h");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(PasswdCommand.Create());
foreach (var tool in tools) root.Subcommands.Add(tool);
return await root.Parse(args).InvokeAsync();
