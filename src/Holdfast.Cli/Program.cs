using System.CommandLine;
using Holdfast.Cli;

var root = new RootCommand("Holdfast: an MQTT 3.1.1 and 5.0 broker that does not lose acknowledged messages.");
root.Subcommands.Add(ServeCommand.Create());
return await root.Parse(args).InvokeAsync();
