using Holdfast.Interop.Tests.Infrastructure;
using static Holdfast.Interop.Tests.DebianPeers.Mosquitto;

namespace Holdfast.Interop.Tests.ServeCommand;

/// <summary>Mosquitto's <c>listener 0 PATH</c>: MQTT over a Unix domain socket, with Debian's mosquitto_pub/sub
/// (<c>--unix PATH</c>) as the peers.</summary>
public sealed class UnixSocketListenerTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("holdfast-unix-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [SkippableFact]
    public async Task Mosquitto_clients_publish_and_subscribe_through_a_unix_socket()
    {
        string socket = Path.Combine(_directory, "holdfast.sock");
        // Left by an earlier run: replaced, as Mosquitto unlinks the path before binding.
        await File.WriteAllTextAsync(socket, "stale");
        await using var broker = await BrokerProcess.StartHoldfastAsync($"listener 0 {socket}\nlog_type all");
        Assert.Contains($"Opening unix listen socket on path {socket}.", broker.Log);

        string subId = Unique("unix-sub");
        await using var sub = ProcessRunner.Start(DebianTool.Require("mosquitto_sub"),
            ["--unix", socket, "-i", subId, "-q", "1", "-t", "unix/t", "-C", "1", "-W", "30"]);
        await broker.Runner.WaitForOutputAsync(SubAckSent(subId), PeerTimeout);
        var (exit, _, stderr) = await ProcessRunner.RunAsync(DebianTool.Require("mosquitto_pub"),
            ["--unix", socket, "-i", Unique("unix-pub"), "-q", "1", "-t", "unix/t", "-m", "over the socket"], PeerTimeout);
        Assert.True(exit == 0, stderr);
        Assert.Equal(["over the socket"], await LinesAfterExitAsync(sub));
    }
}
