using Holdfast.Tools.Tests.Infrastructure;

namespace Holdfast.Tools.Tests.Serve;

/// <summary>The "Securing Holdfast" walk-through in docs/security.md, step by step: users from `holdfast passwd`, its ACL
/// file, a certificate from openssl, a TLS listener, Mosquitto's clients, and a SIGHUP after editing the ACL.</summary>
public sealed class SecuringWalkthroughTests : IDisposable
{
    private static readonly TimeSpan PeerTimeout = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("holdfast-securing-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }

    private string PathOf(string name) => Path.Combine(_directory, name);

    private const string Acl = """
        # Lines before the first 'user' are for anonymous clients: none here.

        user sensor-7
        topic write plant/line-7/#

        user dashboard
        topic read plant/#
        topic read $SYS/broker/clients/#

        # Every client may use its own inbox, clients/<client id>/...
        pattern readwrite clients/%c/#
        """;

    private static async Task OpensslAsync(params string[] args)
    {
        var (exit, _, stderr) = await ProcessRunner.RunAsync(DebianTool.Require("openssl"), args, PeerTimeout);
        Assert.True(exit == 0, $"openssl {string.Join(' ', args)}: {stderr}");
    }

    private static async Task<(int ExitCode, string Stderr)> PubAsync(BrokerProcess broker, params string[] args)
    {
        var (exit, _, stderr) = await ProcessRunner.RunAsync(DebianTool.Require("mosquitto_pub"),
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(), .. args], PeerTimeout);
        return (exit, stderr);
    }

    [SkippableFact]
    public async Task Passwords_acl_and_tls_as_docs_security_walks_through_them()
    {
        // 1. Users.
        Assert.Equal(0, (await HoldfastCli.RunAsync(["passwd", "-c", "-b", PathOf("passwd"), "sensor-7", "sensor-secret"])).ExitCode);
        Assert.Equal(0, (await HoldfastCli.RunAsync(["passwd", "-b", PathOf("passwd"), "dashboard", "dash-secret"])).ExitCode);
        // 2. Who may do what.
        await File.WriteAllTextAsync(PathOf("acl"), Acl + "\n");
        // 3. A certificate from a private CA.
        await OpensslAsync("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365", "-subj", "/CN=Plant CA", "-keyout", PathOf("ca.key"), "-out", PathOf("ca.pem"));
        await OpensslAsync("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", PathOf("server.key"), "-out", PathOf("server.csr"));
        await File.WriteAllTextAsync(PathOf("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
        await OpensslAsync("x509", "-req", "-in", PathOf("server.csr"), "-CA", PathOf("ca.pem"), "-CAkey", PathOf("ca.key"), "-CAcreateserial",
            "-days", "365", "-extfile", PathOf("san.ext"), "-out", PathOf("server.pem"));
        // 4. The config (the listener line comes from the test harness, on a free port).
        await using var broker = await BrokerProcess.StartHoldfastAsync(
            $"allow_anonymous false\npassword_file {PathOf("passwd")}\nacl_file {PathOf("acl")}\n"
            + $"certfile {PathOf("server.pem")}\nkeyfile {PathOf("server.key")}\npersistence false\nlog_type all");

        // 5. Try it.
        string[] tls = ["--cafile", PathOf("ca.pem")];
        await using var dashboard = ProcessRunner.Start(DebianTool.Require("mosquitto_sub"),
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(), .. tls, "-u", "dashboard", "-P", "dash-secret", "-i", "dashboard-1",
             "-t", "plant/#", "-v", "-q", "1", "-C", "2", "-W", "90"]);
        await broker.Runner.WaitForOutputAsync("Sending SUBACK to dashboard-1", PeerTimeout);

        var sent = await PubAsync(broker, [.. tls, "-u", "sensor-7", "-P", "sensor-secret", "-t", "plant/line-7/temp", "-m", "21.5", "-q", "1"]);
        Assert.True(sent.ExitCode == 0, sent.Stderr);
        await dashboard.WaitForOutputAsync("plant/line-7/temp 21.5", PeerTimeout);

        var denied = await PubAsync(broker, [.. tls, "-u", "sensor-7", "-P", "sensor-secret", "-t", "plant/line-8/temp", "-m", "99", "-q", "1", "-V", "mqttv5"]);
        Assert.Contains("Publish 1 failed: Not authorized", denied.Stderr);
        await broker.Runner.WaitForOutputAsync("Denied PUBLISH from", PeerTimeout);

        var wrongPassword = await PubAsync(broker, [.. tls, "-u", "sensor-7", "-P", "wrong", "-t", "plant/line-7/temp", "-m", "1"]);
        Assert.Equal(5, wrongPassword.ExitCode);
        var anonymous = await PubAsync(broker, [.. tls, "-t", "plant/line-7/temp", "-m", "1"]);
        Assert.Equal(5, anonymous.ExitCode);
        var cleartext = await PubAsync(broker, ["-u", "sensor-7", "-P", "sensor-secret", "-t", "plant/line-7/temp", "-m", "1"]);
        Assert.NotEqual(0, cleartext.ExitCode);
        await broker.Runner.WaitForOutputAsync("TLS handshake failed", PeerTimeout);

        // 6. Change the rules without a restart.
        await File.WriteAllTextAsync(PathOf("acl"), Acl.Replace("topic write plant/line-7/#", "topic write plant/line-7/#\ntopic write plant/line-8/#") + "\n");
        broker.Runner.Signal(1);
        await broker.Runner.WaitForOutputAsync("Password and ACL files reloaded (0 clients disconnected).", PeerTimeout);
        var allowed = await PubAsync(broker, [.. tls, "-u", "sensor-7", "-P", "sensor-secret", "-t", "plant/line-8/temp", "-m", "99", "-q", "1", "-V", "mqttv5"]);
        Assert.True(allowed.ExitCode == 0 && !allowed.Stderr.Contains("failed"), allowed.Stderr);

        Assert.True(await dashboard.WaitForExitAsync(PeerTimeout), $"the dashboard did not get both messages: {dashboard.Stdout}");
        Assert.Equal(["plant/line-7/temp 21.5", "plant/line-8/temp 99"], dashboard.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
