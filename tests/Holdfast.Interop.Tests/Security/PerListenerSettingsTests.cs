using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Server;
using Holdfast.Server.Configuration;
using static Holdfast.Interop.Tests.DebianPeers.Mosquitto;

namespace Holdfast.Interop.Tests.Security;

/// <summary>per_listener_settings true (Mosquitto 2): each listener has its own allow_anonymous, password_file and acl_file,
/// seen by mosquitto_pub on two listeners of one broker.</summary>
public sealed class PerListenerSettingsTests : IDisposable
{
    private readonly AclTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static Task<(int ExitCode, string Stdout, string Stderr)> PublishAsync(int port, string topic, params string[] args) =>
        ProcessRunner.RunAsync(DebianTool.Require("mosquitto_pub"),
            ["-h", "127.0.0.1", "-p", port.ToString(), "-V", "mqttv5", "-i", Unique("pls"), "-q", "1", "-t", topic, "-m", "x", .. args], PeerTimeout);

    [SkippableFact]
    public async Task Each_listener_keeps_its_own_anonymous_rule_password_file_and_acl()
    {
        // Listener 1: anonymous clients, held by an ACL. Listener 2: password file only, no ACL.
        string text = $"""
            per_listener_settings true
            persistence false
            listener 1 127.0.0.1
            allow_anonymous true
            acl_file {_files.WriteAcl("topic write public/#\n")}
            listener 2 127.0.0.1
            allow_anonymous false
            password_file {_files.WritePasswords(("alice", "alice-secret"))}
            """;
        var config = ConfigParser.Parse(text, "pls.conf");
        foreach (var listener in config.Listeners) listener.Port = 0;
        await using var server = new HoldfastServer(config, new CapturingLog());
        await server.StartAsync();
        try
        {
            int open = server.Endpoints[0].Port, guarded = server.Endpoints[1].Port;

            var result = await PublishAsync(open, "public/news");
            Assert.True(result.ExitCode == 0 && !result.Stderr.Contains("failed"), result.Stderr);
            result = await PublishAsync(open, "secret/plan");
            Assert.Contains("Not authorized", result.Stderr);

            result = await PublishAsync(guarded, "public/news");
            Assert.Equal(135, result.ExitCode);
            result = await PublishAsync(guarded, "secret/plan", "-u", "alice", "-P", "alice-secret");
            Assert.True(result.ExitCode == 0 && !result.Stderr.Contains("failed"), result.Stderr);
            result = await PublishAsync(open, "public/news", "-u", "alice", "-P", "wrong");
            Assert.True(result.ExitCode == 0, $"listener 1 has no password file, so a user name alone is no reason to refuse: {result.Stderr}");
        }
        finally
        {
            await server.StopAsync();
        }
    }

    [SkippableFact]
    public async Task Dynamic_security_in_one_listener_block_holds_only_that_listener()
    {
        using var dir = new TempDirectory();
        var (exit, stdout, stderr) = await ProcessRunner.RunAsync(DebianTool.Require("mosquitto_ctrl"),
            ["dynsec", "init", dir.Combine("dynsec.json"), "admin", "admin-secret"], PeerTimeout);
        Assert.True(exit == 0, stdout + stderr);
        string text = $"""
            per_listener_settings true
            persistence false
            listener 1 127.0.0.1
            allow_anonymous true
            listener 2 127.0.0.1
            allow_anonymous true
            plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so
            plugin_opt_config_file {dir.Combine("dynsec.json")}
            """;
        var config = ConfigParser.Parse(text, "pls.conf");
        foreach (var listener in config.Listeners) listener.Port = 0;
        await using var server = new HoldfastServer(config, new CapturingLog());
        await server.StartAsync();
        try
        {
            int open = server.Endpoints[0].Port, guarded = server.Endpoints[1].Port;
            // Anonymous on listener 2: dynamic security's defaults (publishClientSend false, init's file) refuse it.
            var result = await PublishAsync(guarded, "plant/temp");
            Assert.Contains("Not authorized", result.Stderr);
            // The admin of listener 2's file is nobody on listener 1, which has no check at all.
            result = await PublishAsync(open, "plant/temp");
            Assert.True(result.ExitCode == 0 && !result.Stderr.Contains("failed"), result.Stderr);
            result = await PublishAsync(guarded, "plant/temp", "-u", "admin", "-P", "wrong");
            Assert.Equal(135, result.ExitCode);
        }
        finally
        {
            await server.StopAsync();
        }
    }
}
