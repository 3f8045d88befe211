using System.CommandLine;
using System.CommandLine.Help;
using Holdfast.Cli;

var root = new RootCommand("Holdfast: an MQTT 3.1.1 and 5.0 broker that does not lose acknowledged messages.");
// -h is the host in mosquitto_pub and mosquitto_sub, so help keeps only --help and -?.
foreach (var help in root.Options.OfType<HelpOption>()) help.Aliases.Remove("-h");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
return await root.Parse(args).InvokeAsync();
