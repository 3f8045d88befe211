using System.CommandLine;
using System.CommandLine.Help;
using Holdfast.Cli;
using Holdfast.Cli.Clients;

// mosquitto_pub/sub's -D COMMAND IDENTIFIER VALUE takes three or four values, which the parser cannot express.
var properties = new V5Properties();
if (args is ["pub" or "sub", ..])
{
    try { properties = V5Properties.Extract(ref args); }
    catch (ArgumentException e) { Console.Error.WriteLine($"Error: {e.Message}"); return 2; }
}

var root = new RootCommand("Holdfast: an MQTT 3.1.1 and 5.0 broker that does not lose acknowledged messages.");
// -h is the host in mosquitto_pub and mosquitto_sub, so help keeps only --help and -?.
foreach (var help in root.Options.OfType<HelpOption>()) help.Aliases.Remove("-h");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(PasswdCommand.Create());
root.Subcommands.Add(PubCommand.Create(properties));
root.Subcommands.Add(SubCommand.Create(properties));
root.Subcommands.Add(CheckCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
return await root.Parse(args).InvokeAsync();
