using System.CommandLine;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Holdfast.Broker;
using Holdfast.Server;
using Holdfast.Server.Configuration;
using Holdfast.Storage.RocksDb;

namespace Holdfast.Cli;

/// <summary><c>holdfast serve [-c FILE] [-p PORT] [-v]</c>, as <c>mosquitto [-c FILE] [-p PORT] [-v]</c>.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config-file", "-c") { Description = "Read the configuration from FILE (Mosquitto syntax). Without it: localhost:1883, anonymous allowed." };
        var port = new Option<int?>("--port", "-p") { Description = "Listen on PORT instead of the first listener's port." };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log everything (log_type all), including the packet trace." };
        var command = new Command("serve", "Run the broker until SIGTERM or SIGINT.") { config, port, verbose };
        command.SetAction(async parse =>
        {
            HoldfastConfig settings;
            try
            {
                settings = parse.GetValue(config) is { } file ? ConfigParser.ParseFile(file) : HoldfastConfig.Default();
            }
            catch (ConfigException e)
            {
                foreach (var error in e.Errors) Console.Error.WriteLine($"Error: {error.Message}");
                return 3;
            }
            if (parse.GetValue(port) is { } p)
            {
                if (p is < 0 or > 65535) { Console.Error.WriteLine($"Error: invalid port {p}."); return 3; }
                settings.Listeners[0].Port = p;
            }
            if (parse.GetValue(verbose)) settings.LogTypes = LogType.All;

            HoldfastServer server;
            try
            {
                // Opens log_dest files and the data directory, and checks settings not supported yet: any of those stops
                // startup with a message, not a stack trace.
                server = new HoldfastServer(settings);
            }
            catch (Exception e) when (e is IOException or StoreOpenException or ConfigException)
            {
                Console.Error.WriteLine($"Error: {e.Message}");
                return 3;
            }
            // SIGHUP reopens log files (for log rotation) and re-reads the password and ACL files, as Mosquitto does. Without
            // this registration it would end the process, so it stays until the server is disposed (declared first, it is
            // disposed last): a SIGHUP while the store is flushing at shutdown must not kill it.
            bool running = true;
            using var reload = PosixSignalRegistration.Create(PosixSignal.SIGHUP, signal =>
            {
                signal.Cancel = true;
                if (!running) return;
                server.Reload();
            });
            await using var _ = server;
            try
            {
                await server.RunAsync();
                return 0;
            }
            catch (Exception e) when (e is IOException or SocketException or ConfigException || e.InnerException is SocketException)
            {
                Console.Error.WriteLine($"Error: {e.Message}");
                return 1;
            }
            finally
            {
                running = false;
            }
        });
        return command;
    }
}
