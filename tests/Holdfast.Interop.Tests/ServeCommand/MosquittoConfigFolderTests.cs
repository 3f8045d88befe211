using Holdfast.Interop.Tests.Infrastructure;

namespace Holdfast.Interop.Tests.ServeCommand;

/// <summary>
/// The mosquitto.conf files in tests/mosquitto-configs, as operators write them (Debian's stock file, a secured setup
/// with TLS, WebSockets, passwords and an ACL, a tuning file), start `holdfast serve` unchanged, with their absolute
/// paths and fixed ports. Each runs in its own mount and network namespaces (unshare, as root): the folder is mounted
/// at /etc/mosquitto, fresh directories at /var/lib/mosquitto, /var/log/mosquitto and /run, and the ports are the
/// namespace's own. Debian's mosquitto_pub and mosquitto_sub, entered into the namespace, then use it.
/// </summary>
public sealed class MosquittoConfigFolderTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly string _root = Directory.CreateTempSubdirectory("holdfast-configs-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static string Folder(string name) =>
        Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "mosquitto-configs", name);

    [SkippableFact]
    public async Task Debians_stock_file_starts_and_serves_localhost()
    {
        await using var broker = await StartAsync("debian-stock");
        Assert.True(broker.PidFileWritten, "pid_file /run/mosquitto/mosquitto.pid not written");
        Assert.True(File.Exists(Path.Combine(_root, "lib", "holdfast.db", "CURRENT")), "no store under persistence_location /var/lib/mosquitto/");
        await broker.RoundTripAsync(["-h", "localhost", "-p", "1883", "-t", "stock/t"], ["-h", "localhost", "-p", "1883", "-t", "stock/t"]);
    }

    [SkippableFact]
    public async Task A_secured_setup_with_tls_websockets_passwords_and_an_acl_starts()
    {
        using var certificates = new TestCertificates();
        string etc = Stage("secured");
        Directory.CreateDirectory(Path.Combine(etc, "certs"));
        File.Copy(certificates.CaFile, Path.Combine(etc, "certs", "ca.crt"));
        File.Copy(certificates.ServerCertFile, Path.Combine(etc, "certs", "server.crt"));
        File.Copy(certificates.ServerKeyFile, Path.Combine(etc, "certs", "server.key"));
        string passwd = DebianTool.Require("mosquitto_passwd");
        Assert.Equal(0, (await ProcessRunner.RunAsync(passwd, ["-c", "-b", Path.Combine(etc, "passwd"), "sensor", "sensor-secret"], Timeout)).ExitCode);
        Assert.Equal(0, (await ProcessRunner.RunAsync(passwd, ["-b", Path.Combine(etc, "passwd"), "dashboard", "dash-secret"], Timeout)).ExitCode);

        await using var broker = await StartStagedAsync();
        Assert.Contains("Opening websockets listen socket on port 9001.", broker.Log);
        // A device over TLS (verifying the server against the CA), the dashboard on the local listener.
        await broker.RoundTripAsync(
            ["-h", "localhost", "-p", "8883", "--cafile", Path.Combine(etc, "certs", "ca.crt"), "-u", "sensor", "-P", "sensor-secret", "-t", "plant/line-1/temp"],
            ["-h", "localhost", "-p", "1883", "-u", "dashboard", "-P", "dash-secret", "-t", "plant/#"]);
        var refused = await broker.RunInsideAsync("mosquitto_pub", ["-h", "localhost", "-p", "1883", "-u", "sensor", "-P", "wrong", "-t", "plant/x", "-m", "x"]);
        Assert.Equal(5, refused.ExitCode);
    }

    [SkippableFact]
    public async Task A_dynamic_security_setup_starts_and_mosquitto_ctrl_manages_it()
    {
        Stage("dynsec");
        string ctrl = DebianTool.Require("mosquitto_ctrl");
        Directory.CreateDirectory(Path.Combine(_root, "lib"));
        var init = await ProcessRunner.RunAsync(ctrl, ["dynsec", "init", Path.Combine(_root, "lib", "dynamic-security.json"), "admin", "admin-secret"], Timeout);
        Assert.True(init.ExitCode == 0, init.Stderr);

        await using var broker = await StartStagedAsync();
        string[] admin = ["-h", "localhost", "-p", "1883", "-u", "admin", "-P", "admin-secret", "dynsec"];
        var created = await broker.RunInsideAsync("mosquitto_ctrl", [.. admin, "createClient", "sensor", "-p", "sensor-secret"]);
        Assert.True(created.ExitCode == 0, created.Stdout + created.Stderr);
        var listed = await broker.RunInsideAsync("mosquitto_ctrl", [.. admin, "listClients"]);
        Assert.Equal(["admin", "sensor"], listed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
        // The new client has no role yet: it may connect, and nobody else may.
        Assert.Equal(0, (await broker.RunInsideAsync("mosquitto_pub", ["-h", "localhost", "-u", "sensor", "-P", "sensor-secret", "-t", "a", "-m", "x"])).ExitCode);
        Assert.Equal(5, (await broker.RunInsideAsync("mosquitto_pub", ["-h", "localhost", "-u", "stranger", "-P", "x", "-t", "a", "-m", "x"])).ExitCode);
    }

    [SkippableFact]
    public async Task A_tuning_file_starts()
    {
        await using var broker = await StartAsync("tuning");
        await broker.RoundTripAsync(["-h", "localhost", "-p", "1883", "-t", "tuned/t"], ["-h", "localhost", "-p", "1883", "-t", "tuned/t"]);
    }

    private Task<Namespaced> StartAsync(string name)
    {
        Stage(name);
        return StartStagedAsync();
    }

    /// <summary>Copies the folder to what will be /etc/mosquitto; returns that directory.</summary>
    private string Stage(string name)
    {
        Skip.IfNot(Environment.UserName == "root", "needs root for unshare --mount --net");
        foreach (var tool in new[] { "unshare", "nsenter", "ip" }) DebianTool.Require(tool, "util-linux iproute2");
        foreach (var mountPoint in new[] { "/etc/mosquitto", "/var/lib/mosquitto", "/var/log/mosquitto" })
            if (!Directory.Exists(mountPoint)) Skip.If(Environment.GetEnvironmentVariable("CI") != "true", $"{mountPoint} missing (apt-get install mosquitto)");
        string etc = Path.Combine(_root, "etc");
        foreach (var file in Directory.EnumerateFiles(Folder(name), "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(etc, Path.GetRelativePath(Folder(name), file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        return etc;
    }

    private async Task<Namespaced> StartStagedAsync()
    {
        foreach (var dir in new[] { "lib", "log", "run" }) Directory.CreateDirectory(Path.Combine(_root, dir));
        string script = string.Join(" && ",
            "ip link set lo up",
            $"mount --bind {_root}/etc /etc/mosquitto",
            $"mount --bind {_root}/lib /var/lib/mosquitto",
            $"mount --bind {_root}/log /var/log/mosquitto",
            $"mount --bind {_root}/run /run",
            "mkdir -p /run/mosquitto",
            $"exec dotnet {BrokerProcess.HoldfastDll} serve -c /etc/mosquitto/mosquitto.conf");
        var runner = ProcessRunner.Start("unshare", ["--mount", "--net", "sh", "-c", script]);
        var broker = new Namespaced(runner, _root);
        try
        {
            await broker.WaitForLogAsync("running");
            return broker;
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
    }

    /// <summary>A broker in its own namespaces, and Debian's clients run inside them.</summary>
    private sealed class Namespaced(ProcessRunner runner, string root) : IAsyncDisposable
    {
        public string Log => runner.Stdout + runner.Stderr + (File.Exists(LogFile) ? ReadShared(LogFile) : "");
        public bool PidFileWritten => File.Exists(Path.Combine(root, "run", "mosquitto", "mosquitto.pid"));
        private string LogFile => Path.Combine(root, "log", "mosquitto.log");

        public async Task WaitForLogAsync(string fragment)
        {
            var deadline = DateTime.UtcNow + Timeout;
            while (!Log.Contains(fragment, StringComparison.Ordinal))
            {
                if (runner.HasExited || DateTime.UtcNow > deadline)
                    throw new TimeoutException($"'{fragment}' never logged; the broker said:\n{Log}");
                await Task.Delay(50);
            }
        }

        public Task<(int ExitCode, string Stdout, string Stderr)> RunInsideAsync(string tool, string[] args) =>
            ProcessRunner.RunAsync("nsenter", ["-t", runner.Id.ToString(), "-n", DebianTool.Require(tool), .. args], Timeout);

        /// <summary>A retained QoS 1 message published with <paramref name="pub"/> reaches a subscriber made after it
        /// with <paramref name="sub"/> (retained, so no wait for the subscription is needed).</summary>
        public async Task RoundTripAsync(string[] pub, string[] sub)
        {
            var published = await RunInsideAsync("mosquitto_pub", [.. pub, "-q", "1", "-r", "-m", "through the file"]);
            Assert.True(published.ExitCode == 0, $"mosquitto_pub: {published.Stderr}\n{Log}");
            var received = await RunInsideAsync("mosquitto_sub", [.. sub, "-q", "1", "-C", "1", "-W", "20"]);
            Assert.True(received.ExitCode == 0, $"mosquitto_sub: {received.Stderr}\n{Log}");
            Assert.Equal("through the file", received.Stdout.Trim());
        }

        private static string ReadShared(string path)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }

        public async ValueTask DisposeAsync()
        {
            if (!runner.HasExited) runner.Signal(15);
            await runner.WaitForExitAsync(Timeout);
            await runner.DisposeAsync();
        }
    }
}
