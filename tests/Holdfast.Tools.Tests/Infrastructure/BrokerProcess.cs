using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Holdfast.Interop.Tests.Infrastructure;

namespace Holdfast.Tools.Tests.Infrastructure;

/// <summary>A broker the tools are tested against, as a child process on 127.0.0.1: `holdfast serve` or Debian's mosquitto.
/// The test stops it (by its process id) when it disposes it.</summary>
public sealed partial class BrokerProcess : IAsyncDisposable
{
    private readonly string _directory;

    private BrokerProcess(string name, ProcessRunner runner, int port, string directory)
    {
        Name = name;
        Runner = runner;
        Port = port;
        _directory = directory;
    }

    /// <summary>"holdfast" or "mosquitto".</summary>
    public string Name { get; }
    public ProcessRunner Runner { get; }
    public int Port { get; }
    public int Pid => Runner.Id;
    public string Log => Runner.Stdout + Runner.Stderr;

    /// <summary>The brokers every tool must work with, for [Theory] data.</summary>
    public static TheoryData<string> Names => new() { "holdfast", "mosquitto" };

    public static Task<BrokerProcess> StartAsync(string name, string configText = "") => name switch
    {
        "holdfast" => StartHoldfastAsync(configText),
        "mosquitto" => StartMosquittoAsync(configText),
        _ => throw new ArgumentException($"unknown broker {name}"),
    };

    /// <summary>`holdfast serve -p 0` with a durable store in a temporary directory.</summary>
    public static async Task<BrokerProcess> StartHoldfastAsync(string configText = "")
    {
        string directory = Directory.CreateTempSubdirectory("holdfast-tools-").FullName;
        string config = Path.Combine(directory, "holdfast.conf");
        await File.WriteAllTextAsync(config, $"listener 1883 127.0.0.1\nallow_anonymous true\nlog_dest stdout\n"
            + $"persistence_location {directory}\n{configText}\n");
        var runner = ProcessRunner.Start("dotnet", [HoldfastCli.Dll, "serve", "-c", config, "-p", "0"]);
        try
        {
            await runner.WaitForOutputAsync("running", TimeSpan.FromSeconds(30));
        }
        catch
        {
            await runner.DisposeAsync();
            throw;
        }
        var match = HoldfastListenLine().Match(runner.Stdout);
        if (!match.Success) throw new InvalidOperationException($"no listen line in:\n{runner.Stdout}");
        return new BrokerProcess("holdfast", runner, int.Parse(match.Groups[1].Value), directory);
    }

    /// <summary>Debian's mosquitto on a free port (it has no ephemeral-port option: a taken port is retried with another).</summary>
    public static async Task<BrokerProcess> StartMosquittoAsync(string configText = "")
    {
        string mosquitto = File.Exists("/usr/sbin/mosquitto") ? "/usr/sbin/mosquitto" : DebianTool.Require("mosquitto");
        for (int attempt = 0; ; attempt++)
        {
            string directory = Directory.CreateTempSubdirectory("mosquitto-tools-").FullName;
            int port = FreePort();
            string config = Path.Combine(directory, "mosquitto.conf");
            // Run as root when root starts it (else it drops to user mosquitto, who cannot read this directory). Log to stderr:
            // mosquitto's stdout is block-buffered when it is a pipe.
            await File.WriteAllTextAsync(config, $"user root\nlistener {port} 127.0.0.1\nallow_anonymous true\nlog_dest stderr\n"
                + $"persistence_location {directory}/\n{configText}\n");
            var runner = ProcessRunner.Start(mosquitto, ["-c", config]);
            try
            {
                await runner.WaitForOutputAsync(" running", TimeSpan.FromSeconds(20));
                return new BrokerProcess("mosquitto", runner, port, directory);
            }
            catch (TimeoutException)
            {
                bool portTaken = runner.HasExited;
                await runner.DisposeAsync();
                Directory.Delete(directory, recursive: true);
                if (!portTaken || attempt >= 3) throw;
            }
        }
    }

    /// <summary>A port nothing listens on right now.</summary>
    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"listen socket on 127\.0\.0\.1:(\d+)")]
    private static partial Regex HoldfastListenLine();

    public async ValueTask DisposeAsync()
    {
        await Runner.DisposeAsync();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}
