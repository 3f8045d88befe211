using Holdfast.Interop.Tests.Infrastructure;
using static Holdfast.Interop.Tests.DebianPeers.Mosquitto;

namespace Holdfast.Interop.Tests.ServeCommand;

/// <summary>Mosquitto's <c>user</c>: started as root, `holdfast serve` binds its listeners, opens its store, hands the
/// data directory to the user and runs on as that user; the store keeps working.</summary>
public sealed class UserPrivilegeDropTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("holdfast-user-").FullName;

    public UserPrivilegeDropTests()
    {
        // Open to the user, as a data directory's parents must be (Directory.CreateTempSubdirectory makes it 0700).
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(_directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [SkippableFact]
    public async Task Started_as_root_it_runs_as_the_user_and_its_store_still_works()
    {
        Skip.IfNot(Environment.UserName == "root", "needs root: the test checks that root is given up");
        await using var broker = await BrokerProcess.StartHoldfastAsync("user nobody\nlog_type all", persistenceLocation: _directory);
        Assert.Contains("Dropped privileges to user nobody", broker.Log);
        string uid = (await ProcessRunner.RunAsync("id", ["-u", "nobody"], PeerTimeout)).Stdout.Trim();
        var uids = File.ReadLines($"/proc/{broker.Pid}/status").Single(l => l.StartsWith("Uid:", StringComparison.Ordinal))
            .Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[1..];
        Assert.All(uids, u => Assert.Equal(uid, u));

        // A persistent session's QoS 1 message is acknowledged only once stored: the store writes as the user.
        string subId = Unique("user-sub");
        await using var sub = await SubscribeAsync(broker, "mqttv311", subId, "-c", "-q", "1", "-t", "user/t", "-C", "1");
        await PublishAsync(broker.Port, "mqttv311", Unique("user-pub"), ["-q", "1", "-t", "user/t", "-m", "stored as nobody"]);
        Assert.Equal(["stored as nobody"], await LinesAfterExitAsync(sub));
        string owner = (await ProcessRunner.RunAsync("stat", ["-c", "%U", Path.Combine(_directory, "holdfast.db", "CURRENT")], PeerTimeout)).Stdout.Trim();
        Assert.Equal("nobody", owner);
    }

    /// <summary>The data directory is the user's between runs: a link it planted there must not make root give away
    /// the file it points at.</summary>
    [SkippableFact]
    public async Task A_link_planted_in_the_data_directory_is_not_followed()
    {
        Skip.IfNot(Environment.UserName == "root", "needs root: the test checks what root hands over");
        string target = Path.Combine(_directory, "roots-file");
        await File.WriteAllTextAsync(target, "root's");
        // A store from an earlier run, as the user left it.
        await using (var first = await BrokerProcess.StartHoldfastAsync("user nobody", persistenceLocation: _directory)) { }
        File.CreateSymbolicLink(Path.Combine(_directory, "holdfast.db", "planted"), target);
        await using var broker = await BrokerProcess.StartHoldfastAsync("user nobody", persistenceLocation: _directory);
        Assert.Contains("Dropped privileges to user nobody", broker.Log);
        string owner = (await ProcessRunner.RunAsync("stat", ["-c", "%U", target], PeerTimeout)).Stdout.Trim();
        Assert.Equal("root", owner);
    }

    [SkippableFact]
    public async Task An_unknown_user_stops_startup_at_its_line()
    {
        Skip.IfNot(Environment.UserName == "root", "needs root: as anyone else, user is not applied (as in Mosquitto)");
        string config = Path.Combine(_directory, "holdfast.conf");
        await File.WriteAllTextAsync(config, "listener 1883 127.0.0.1\nuser no-such-user-here\n");
        var (exit, stdout, stderr) = await ProcessRunner.RunAsync("dotnet", [BrokerProcess.HoldfastDll, "serve", "-c", config, "-p", "0"], PeerTimeout);
        Assert.NotEqual(0, exit);
        Assert.Contains($"{config}:2: user no-such-user-here: no such user on this system", stdout + stderr);
    }
}
