using System.Text.Json;
using Holdfast.Tools.Tests.Infrastructure;

namespace Holdfast.Tools.Tests.Clients;

/// <summary>Starting holdfast sub/pub and Debian's mosquitto_sub/pub against a test broker, and reading what they print.</summary>
internal static class ClientTools
{
    public static readonly TimeSpan PeerTimeout = TimeSpan.FromSeconds(30);

    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Starts holdfast sub with -d and returns once its SUBACK has arrived, so nothing published after is missed.</summary>
    public static async Task<ProcessRunner> StartSubAsync(BrokerProcess broker, params string[] args)
    {
        var sub = HoldfastCli.Start(["sub", "-p", broker.Port.ToString(), "-h", "127.0.0.1", "-d", "-W", "40", .. args]);
        await sub.WaitForOutputAsync("received SUBACK", PeerTimeout);
        return sub;
    }

    /// <summary>As <see cref="StartSubAsync"/>, with standard input kept open (for --manual-ack).</summary>
    public static async Task<ProcessRunner> StartSubWithInputAsync(BrokerProcess broker, params string[] args)
    {
        var sub = HoldfastCli.StartWithInput(["sub", "-p", broker.Port.ToString(), "-h", "127.0.0.1", "-d", "-W", "40", .. args]);
        await sub.WaitForOutputAsync("received SUBACK", PeerTimeout);
        return sub;
    }

    public static async Task PubAsync(BrokerProcess broker, string[] args, string? stdin = null)
    {
        var (exit, stdout, stderr) = await HoldfastCli.RunAsync(["pub", "-p", broker.Port.ToString(), "-h", "127.0.0.1", .. args], stdin);
        Assert.True(exit == 0, $"holdfast pub {string.Join(' ', args)} exited {exit}\nstdout:\n{stdout}\nstderr:\n{stderr}\nbroker:\n{broker.Log}");
    }

    public static async Task MosquittoPubAsync(BrokerProcess broker, params string[] args)
    {
        var (exit, stdout, stderr) = await ProcessRunner.RunAsync(DebianTool.Require("mosquitto_pub"),
            ["-p", broker.Port.ToString(), "-h", "127.0.0.1", .. args], PeerTimeout);
        Assert.True(exit == 0, $"mosquitto_pub exited {exit}\n{stdout}\n{stderr}");
    }

    /// <summary>Waits for the process to exit with <paramref name="expectedExit"/> and returns its stdout lines.</summary>
    public static async Task<string[]> LinesAfterExitAsync(ProcessRunner process, int expectedExit = 0)
    {
        Assert.True(await process.WaitForExitAsync(PeerTimeout), $"still running. stdout:\n{process.Stdout}\nstderr:\n{process.Stderr}");
        Assert.True(process.ExitCode == expectedExit, $"exit {process.ExitCode}, expected {expectedExit}. stdout:\n{process.Stdout}\nstderr:\n{process.Stderr}");
        return Lines(process.Stdout);
    }

    public static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    public static JsonElement[] JsonLines(string text) => Lines(text).Select(l => JsonDocument.Parse(l).RootElement).ToArray();

    /// <summary>Waits until stdout holds at least <paramref name="count"/> lines.</summary>
    public static async Task<string[]> WaitForLinesAsync(ProcessRunner process, int count)
    {
        var deadline = DateTime.UtcNow + PeerTimeout;
        while (Lines(process.Stdout).Length < count)
        {
            if (DateTime.UtcNow > deadline || process.HasExited)
                throw new TimeoutException($"wanted {count} line(s). stdout:\n{process.Stdout}\nstderr:\n{process.Stderr}");
            await Task.Delay(20);
        }
        return Lines(process.Stdout);
    }
}
