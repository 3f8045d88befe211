using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Holdfast.Testing;

/// <summary>A broker as a child process on 127.0.0.1: `holdfast serve` (holdfast.dll, which a test project has in its output
/// by referencing Holdfast.Cli) or Debian's mosquitto. The test stops it (by its process id) when it disposes it.</summary>
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

    /// <summary>The `holdfast` command, to run with `dotnet`.</summary>
    public static string HoldfastDll => Path.Combine(AppContext.BaseDirectory, "holdfast.dll");

    /// <summary>The brokers every tool must work with, for [Theory] data.</summary>
    public static TheoryData<string> Names => new() { "holdfast", "mosquitto" };

    public static Task<BrokerProcess> StartAsync(string name, string configText = "") => name switch
    {
        "holdfast" => StartHoldfastAsync(configText),
        "mosquitto" => StartMosquittoAsync(configText),
        _ => throw new ArgumentException($"unknown broker {name}"),
    };

    /// <summary>`holdfast serve -c FILE -p 0 [extraArgs]`, with <paramref name="configText"/> after a first listener on
    /// 127.0.0.1. The durable store is on, in <paramref name="persistenceLocation"/> (kept, for restart tests) or else in the
    /// temporary directory deleted with the process.</summary>
    public static async Task<BrokerProcess> StartHoldfastAsync(string configText = "", string[]? extraArgs = null, string? persistenceLocation = null)
    {
        string directory = Directory.CreateTempSubdirectory("holdfast-broker-").FullName;
        string config = Path.Combine(directory, "holdfast.conf");
        // The config language refuses port 0; `-p 0` moves the first listener to an ephemeral port.
        await File.WriteAllTextAsync(config, $"listener 1883 127.0.0.1\nallow_anonymous true\nlog_dest stdout\n"
            + $"persistence_location {persistenceLocation ?? directory}\n{configText}\n");
        var runner = ProcessRunner.Start("dotnet", [HoldfastDll, "serve", "-c", config, "-p", "0", .. extraArgs ?? []]);
        try
        {
            await runner.WaitForOutputAsync("running", TimeSpan.FromSeconds(30));
            var match = HoldfastListenLine().Match(runner.Stdout);
            if (!match.Success) throw new InvalidOperationException($"no listen line in:\n{runner.Stdout}");
            return new BrokerProcess("holdfast", runner, int.Parse(match.Groups[1].Value), directory);
        }
        catch
        {
            await runner.DisposeAsync();
            Directory.Delete(directory, recursive: true);
            throw;
        }
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

    /// <summary>SIGKILL: the broker gets no chance to write anything more.</summary>
    public void Kill() => Runner.Kill();

    [GeneratedRegex(@"Opening ipv4 listen socket on port (\d+)\.")]
    private static partial Regex HoldfastListenLine();

    public async ValueTask DisposeAsync()
    {
        await Runner.DisposeAsync();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}
