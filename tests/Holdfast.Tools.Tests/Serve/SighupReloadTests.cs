using Holdfast.Tools.Tests.Infrastructure;

namespace Holdfast.Tools.Tests.Serve;

/// <summary>acl_file and SIGHUP at the process level: `holdfast serve` and Debian's Mosquitto 2.0.11 with the same ACL
/// file filter a '#' subscriber the same way, and both apply an edited file after `kill -HUP`.</summary>
public sealed class SighupReloadTests : IDisposable
{
    private static readonly TimeSpan PeerTimeout = TimeSpan.FromSeconds(20);
    private readonly string _directory = Directory.CreateTempSubdirectory("holdfast-sighup-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }

    private string Acl => Path.Combine(_directory, "acl");

    private static async Task PubAsync(BrokerProcess broker, string topic, string text)
    {
        var (exit, _, stderr) = await ProcessRunner.RunAsync(DebianTool.Require("mosquitto_pub"),
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(), "-q", "1", "-t", topic, "-m", text], PeerTimeout);
        Assert.True(exit == 0, stderr);
    }

    private static async Task HangUpAsync(BrokerProcess broker)
    {
        var (exit, _, stderr) = await ProcessRunner.RunAsync("kill", ["-HUP", broker.Pid.ToString()], PeerTimeout);
        Assert.True(exit == 0, stderr);
    }

    [SkippableTheory]
    [MemberData(nameof(BrokerProcess.Names), MemberType = typeof(BrokerProcess))]
    public async Task A_hash_subscriber_gets_what_the_acl_lets_it_read_before_and_after_SIGHUP(string name)
    {
        await File.WriteAllTextAsync(Acl, "topic write #\ntopic read plant/#\n");
        await using var broker = await BrokerProcess.StartAsync(name, $"acl_file {Acl}\nlog_type all\npersistence false");
        string subscriber = $"sighup-{name}";
        await using var sub = ProcessRunner.Start(DebianTool.Require("mosquitto_sub"),
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(), "-i", subscriber, "-q", "1", "-t", "#", "-v", "-C", "2", "-W", "60"]);
        await broker.Runner.WaitForOutputAsync($"Sending SUBACK to {subscriber}", PeerTimeout);

        // The unreadable message goes first: had it been delivered, it would come before the readable one.
        await PubAsync(broker, "office/door", "1");
        await PubAsync(broker, "plant/temp", "2");
        await sub.WaitForOutputAsync("plant/temp 2", PeerTimeout);

        await File.WriteAllTextAsync(Acl, "topic write #\ntopic read office/#\n");
        await HangUpAsync(broker);
        await broker.Runner.WaitForOutputAsync(name == "holdfast" ? "Password and ACL files reloaded" : "Reloading config.", PeerTimeout);
        await PubAsync(broker, "plant/temp", "3");
        await PubAsync(broker, "office/door", "4");

        Assert.True(await sub.WaitForExitAsync(TimeSpan.FromSeconds(40)), $"mosquitto_sub did not get its 2 messages: {sub.Stdout}");
        Assert.Equal(["plant/temp 2", "office/door 4"], sub.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>Both brokers grant a subscription nothing readable can match yet (Mosquitto 2 never refuses one under an
    /// acl_file), and a SIGHUP that grants read access reaches that subscription without a new SUBSCRIBE.</summary>
    [SkippableTheory]
    [MemberData(nameof(BrokerProcess.Names), MemberType = typeof(BrokerProcess))]
    public async Task A_subscription_nothing_readable_can_match_is_granted_and_a_reload_opens_it(string name)
    {
        await File.WriteAllTextAsync(Acl, "topic write #\ntopic read plant/#\n");
        await using var broker = await BrokerProcess.StartAsync(name, $"acl_file {Acl}\nlog_type all\npersistence false");
        string subscriber = $"sighup-office-{name}";
        await using var sub = ProcessRunner.Start(DebianTool.Require("mosquitto_sub"),
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(), "-i", subscriber, "-q", "1", "-t", "office/#", "-C", "1", "-W", "60"]);
        await broker.Runner.WaitForOutputAsync($"Sending SUBACK to {subscriber}", PeerTimeout);
        await PubAsync(broker, "office/door", "unreadable");

        await File.WriteAllTextAsync(Acl, "topic write #\ntopic read office/#\n");
        await HangUpAsync(broker);
        await broker.Runner.WaitForOutputAsync(name == "holdfast" ? "Password and ACL files reloaded" : "Reloading config.", PeerTimeout);
        await PubAsync(broker, "office/door", "readable");
        Assert.True(await sub.WaitForExitAsync(TimeSpan.FromSeconds(40)), $"mosquitto_sub got nothing: {sub.Stderr}");
        Assert.Equal("readable", sub.Stdout.Trim());
    }

    [SkippableFact]
    public async Task A_bad_acl_file_at_SIGHUP_is_logged_and_the_old_rules_stay()
    {
        await File.WriteAllTextAsync(Acl, "topic readwrite plant/#\n");
        await using var broker = await BrokerProcess.StartHoldfastAsync($"acl_file {Acl}\npersistence false\nlog_type all");
        await File.WriteAllTextAsync(Acl, "topic readwrite plant/#\ntopic reed office/#\n");
        await HangUpAsync(broker);
        await broker.Runner.WaitForOutputAsync($"Error: {Acl}:2: topic: unknown access 'reed'", PeerTimeout);

        // Still running, still with the old rules: a message on plant/ goes round.
        string subscriber = "sighup-bad";
        await using var sub = ProcessRunner.Start(DebianTool.Require("mosquitto_sub"),
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(), "-i", subscriber, "-t", "plant/#", "-C", "1", "-W", "60"]);
        await broker.Runner.WaitForOutputAsync($"Sending SUBACK to {subscriber}", PeerTimeout);
        await PubAsync(broker, "plant/x", "after");
        Assert.True(await sub.WaitForExitAsync(TimeSpan.FromSeconds(40)), $"mosquitto_sub got nothing: {sub.Stderr}");
        Assert.Equal("after", sub.Stdout.Trim());
        Assert.False(broker.Runner.HasExited);
    }

    [Fact]
    public async Task A_bad_acl_line_at_startup_names_the_file_and_line()
    {
        await File.WriteAllTextAsync(Acl, "# plant\ntopic read plant/#\nuser\n");
        string config = Path.Combine(_directory, "holdfast.conf");
        await File.WriteAllTextAsync(config, $"listener 1883 127.0.0.1\nacl_file {Acl}\n");
        var (exit, stdout, stderr) = await HoldfastCli.RunAsync(["serve", "-c", config, "-p", "0"]);
        Assert.True(exit == 3, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains($"Error: {Acl}:3: user: missing user name", stderr);
    }
}
