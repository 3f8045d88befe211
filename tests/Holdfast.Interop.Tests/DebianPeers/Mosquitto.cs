using Holdfast.Interop.Tests.Infrastructure;

namespace Holdfast.Interop.Tests.DebianPeers;

/// <summary>
/// Debian's mosquitto_sub / mosquitto_pub as peers. A subscriber counts as ready when the broker's packet trace
/// shows its SUBACK going out, so tests never publish into a subscription that does not exist yet, and never sleep.
/// </summary>
internal static class Mosquitto
{
    public static readonly TimeSpan PeerTimeout = TimeSpan.FromSeconds(20);

    /// <summary>A client id or topic part nobody else uses (mosquitto caps ids at 23 bytes for 3.1.1 brokers; keep them short).</summary>
    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";

    /// <summary>The broker log fragment that says <paramref name="clientId"/>'s SUBACK was sent (needs log_type all / -v).</summary>
    public static string SubAckSent(string clientId) => $"Sending SUBACK to {clientId}";

    /// <summary>Starts mosquitto_sub against 127.0.0.1:<paramref name="port"/> with -i and -V, and waits until
    /// <paramref name="waitForLog"/> has seen its SUBACK go out.</summary>
    public static async Task<ProcessRunner> SubscribeAsync(int port, Func<string, TimeSpan, Task> waitForLog, string version,
        string clientId, params string[] args)
    {
        var sub = StartSub(port, version, clientId, args);
        try
        {
            await waitForLog(SubAckSent(clientId), PeerTimeout);
        }
        catch (TimeoutException e)
        {
            await sub.DisposeAsync();
            throw new TimeoutException($"mosquitto_sub {clientId} never got its SUBACK. Its stderr:\n{sub.Stderr}", e);
        }
        return sub;
    }

    public static Task<ProcessRunner> SubscribeAsync(TestBroker broker, string version, string clientId, params string[] args) =>
        SubscribeAsync(broker.Port, (f, t) => broker.Log.WaitForAsync(f, t), version, clientId, args);

    public static Task<ProcessRunner> SubscribeAsync(BrokerProcess broker, string version, string clientId, params string[] args) =>
        SubscribeAsync(broker.Port, broker.Runner.WaitForOutputAsync, version, clientId, args);

    /// <summary>Starts mosquitto_sub without waiting for anything (always with -W as a backstop, so it cannot outlive a failed test).</summary>
    public static ProcessRunner StartSub(int port, string version, string clientId, params string[] args) =>
        ProcessRunner.Start(DebianTool.Require("mosquitto_sub"),
            ["-h", "127.0.0.1", "-p", port.ToString(), "-V", version, "-i", clientId, "-W", "30", .. args]);

    /// <summary>Runs mosquitto_pub to completion and fails the test if it does not exit 0.</summary>
    public static async Task PublishAsync(int port, string version, string clientId, string[] args, string? stdin = null)
    {
        var (exit, stdout, stderr) = await ProcessRunner.RunAsync(DebianTool.Require("mosquitto_pub"),
            ["-h", "127.0.0.1", "-p", port.ToString(), "-V", version, "-i", clientId, .. args], PeerTimeout, stdin);
        Assert.True(exit == 0, $"mosquitto_pub {string.Join(' ', args)} exited {exit}.\nstdout:\n{stdout}\nstderr:\n{stderr}");
    }

    /// <summary>Waits for a mosquitto_sub started with -C to exit after its count, and returns its output lines.
    /// Exit code 0 means it got all its messages (27 would mean the -W timeout hit first).</summary>
    public static async Task<string[]> LinesAfterExitAsync(ProcessRunner sub)
    {
        bool exited = await sub.WaitForExitAsync(TimeSpan.FromSeconds(40));
        Assert.True(exited, $"mosquitto_sub did not exit. stdout so far:\n{sub.Stdout}\nstderr:\n{sub.Stderr}");
        Assert.True(sub.ExitCode == 0, $"mosquitto_sub exited {sub.ExitCode} (27 = -W timeout: messages missing). stdout:\n{sub.Stdout}\nstderr:\n{sub.Stderr}");
        return Lines(sub.Stdout);
    }

    public static string[] Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
}
