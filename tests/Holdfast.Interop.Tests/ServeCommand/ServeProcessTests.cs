using System.Net;
using System.Net.Sockets;
using Holdfast.Interop.Tests.DebianPeers;
using Holdfast.Interop.Tests.Infrastructure;
using static Holdfast.Interop.Tests.DebianPeers.Mosquitto;

namespace Holdfast.Interop.Tests.ServeCommand;

/// <summary>The real `holdfast serve` command as a child process, driven by Debian's mosquitto clients and raw sockets.</summary>
public sealed class ServeProcessTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private static string TempFile(string extension) => Path.Combine(Path.GetTempPath(), $"holdfast-serve-{Guid.NewGuid():N}{extension}");

    [SkippableTheory]
    [InlineData("mqttv311")]
    [InlineData("mqttv5")]
    public async Task Serve_with_a_config_file_carries_messages_between_mosquitto_clients(string version)
    {
        await using var broker = await BrokerProcess.StartHoldfastAsync("", ["-v"]);
        string topic = Unique("serve") + "/t";
        await using var sub = await SubscribeAsync(broker, version, Unique("sub"), "-t", topic, "-q", "2", "-C", "3", "-F", "%q %p");
        // One id per publisher process: reusing an id at once would be a session takeover, and a QoS 0 PUBLISH the
        // old connection had sent but the broker had not yet read may then be discarded with that connection.
        // mosquitto_pub exits as soon as a QoS 0 PUBLISH and its DISCONNECT are written, so the next publisher could be
        // read first: each publisher's DISCONNECT is awaited in the trace, which orders the three messages.
        for (int qos = 0; qos <= 2; qos++)
        {
            string publisher = Unique("pub");
            await PublishAsync(broker.Port, version, publisher, ["-t", topic, "-q", qos.ToString(), "-m", $"hello-q{qos}"]);
            await broker.Runner.WaitForOutputAsync($"Received DISCONNECT from {publisher}", StartTimeout);
        }
        Assert.Equal(["0 hello-q0", "1 hello-q1", "2 hello-q2"], await LinesAfterExitAsync(sub));
    }

    [SkippableFact]
    public async Task Verbose_flag_prints_the_mosquitto_style_packet_trace()
    {
        DebianTool.Require("mosquitto_pub");
        await using var broker = await BrokerProcess.StartHoldfastAsync("", ["-v"]);
        // Each broker process is private to this test, so the fixed id c1 and topic a/b of the documented example are safe.
        await PublishAsync(broker.Port, "mqttv311", "c1", ["-t", "a/b", "-q", "1", "-m", "hello"]);

        await broker.Runner.WaitForOutputAsync("Received PUBLISH from c1 (d0, q1, r0, m1, 'a/b', ... (5 bytes))", StartTimeout);
        await broker.Runner.WaitForOutputAsync("Sending PUBACK to c1 (m1, rc0)", StartTimeout);
        await broker.Runner.WaitForOutputAsync("Sending CONNACK to c1 (0, 0)", StartTimeout);
        await broker.Runner.WaitForOutputAsync("Received DISCONNECT from c1", StartTimeout);
        // Mosquitto's line shape: "<unix seconds>: <message>".
        Assert.Matches(@"(?m)^\d{10}: Received PUBLISH from c1 ", broker.Runner.Stdout);
    }

    [SkippableFact]
    public async Task Without_verbose_the_packet_trace_is_not_printed()
    {
        DebianTool.Require("mosquitto_pub");
        await using var broker = await BrokerProcess.StartHoldfastAsync();
        string id = Unique("quiet");
        await PublishAsync(broker.Port, "mqttv311", id, ["-t", "a/b", "-q", "1", "-m", "hello"]);
        // The connection notice is printed (default log types), the trace is not.
        await broker.Runner.WaitForOutputAsync($"Client {id} disconnected", StartTimeout);
        Assert.DoesNotContain("Received PUBLISH", broker.Runner.Stdout);
        Assert.DoesNotContain("Sending PUBACK", broker.Runner.Stdout);
    }

    /// <summary>The startup warning for a session that can hold everything forever, or hold everyone back: given exactly
    /// when persistent sessions never expire and either the queues have no budget or the policy is block.</summary>
    [Theory]
    [InlineData("", null)]
    [InlineData("queue_full_policy block", "Persistent sessions never expire and queue_full_policy is block")]
    [InlineData("max_queued_messages 0\nmax_queued_bytes 0", "Persistent sessions never expire and their queues have no limit")]
    [InlineData("queue_full_policy block\npersistent_client_expiration 14d", null)]
    [InlineData("max_queued_messages 0\nmax_queued_bytes 0\npersistent_client_expiration 2w", null)]
    public async Task Sessions_that_never_expire_without_a_budget_are_warned_about_at_startup(string config, string? warning)
    {
        await using var broker = await BrokerProcess.StartHoldfastAsync(config);
        // Lines are written in order: everything logged before the listener's line is out once it is.
        if (warning is null)
            Assert.DoesNotContain("Persistent sessions never expire", broker.Runner.Stdout);
        else
            Assert.Contains(warning, broker.Runner.Stdout);
    }

    /// <summary>A Mosquitto file with directives at the value Holdfast always has, and a comment after a value, starts
    /// unchanged; each such directive is noted once in the log.</summary>
    [Fact]
    public async Task Mosquitto_directives_at_holdfasts_own_value_start_with_a_note()
    {
        await using var broker = await BrokerProcess.StartHoldfastAsync(
            "set_tcp_nodelay true   # as Mosquitto's tuning guides say\nmemory_limit 0\nupgrade_outgoing_qos false\nmax_inflight_messages 20 # per client");
        Assert.Contains("set_tcp_nodelay true (", broker.Runner.Stdout);
        Assert.Contains("memory_limit 0 (", broker.Runner.Stdout);
        Assert.Contains("upgrade_outgoing_qos false (", broker.Runner.Stdout);
    }

    public static TheoryData<string, int, string> BadConfigs() => new()
    {
        { "allow_anonymous true\nno_such_directive 5\n", 2, "no_such_directive" },
        { "# a comment\n\nmax_inflight_messages lots\n", 3, "max_inflight_messages" },
        { "listener 1883 127.0.0.1\nlistener 70000\n", 2, "70000" },
        { "log_dest carrier_pigeon\n", 1, "log_dest" },
    };

    [Theory]
    [MemberData(nameof(BadConfigs))]
    public async Task Bad_config_stops_startup_naming_file_line_and_reason(string config, int line, string reasonFragment)
    {
        string path = TempFile(".conf");
        await File.WriteAllTextAsync(path, config);
        try
        {
            var (exit, stdout, stderr) = await ProcessRunner.RunAsync("dotnet", [BrokerProcess.HoldfastDll, "serve", "-c", path], StartTimeout);
            Assert.True(exit != 0 && exit != -1, $"exit {exit}; stdout:\n{stdout}\nstderr:\n{stderr}");
            Assert.Contains($"{path}:{line}:", stderr);
            Assert.Contains(reasonFragment, stderr);
            Assert.DoesNotContain("running", stdout);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>A config with several mistakes: every one is printed, each on an Error line with its file and line, so
    /// one edit fixes them all.</summary>
    [Fact]
    public async Task Every_config_error_is_printed_in_one_start()
    {
        string path = TempFile(".conf");
        await File.WriteAllTextAsync(path, "max_inflight_messages lots\nallow_anonymous true\nno_such_directive 5\nconnection up\n");
        try
        {
            var (exit, _, stderr) = await ProcessRunner.RunAsync("dotnet", [BrokerProcess.HoldfastDll, "serve", "-c", path], StartTimeout);
            Assert.Equal(3, exit);
            Assert.Equal([$"Error: {path}:1: max_inflight_messages: 'lots' is not a number",
                $"Error: {path}:3: unknown directive 'no_such_directive'",
                $"Error: {path}:4: 'connection' is a Mosquitto directive that Holdfast does not support: bridges are not supported yet; keep the bridge on a Mosquitto broker for now"],
                stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Settings Holdfast parses but does not enforce yet must stop startup: letting anyone in where an ACL
    /// file was named would fail open (DESIGN.md §5). So must a TLS listener whose certificate cannot be read: serving
    /// plaintext, or a listener that fails every handshake, would be worse than not starting.</summary>
    [Theory]
    [InlineData("listener 1 127.0.0.1\ncertfile /nonexistent/server.crt\nkeyfile /nonexistent/server.key\n", 2, "certfile: cannot read /nonexistent/server.crt")]
    [InlineData("listener 1 127.0.0.1\n# ACL\nacl_file /etc/holdfast/acl\n", 3, "acl_file")]
    public async Task Security_settings_that_are_not_enforced_stop_startup(string config, int line, string setting)
    {
        string path = TempFile(".conf");
        await File.WriteAllTextAsync(path, config);
        try
        {
            var (exit, stdout, stderr) = await ProcessRunner.RunAsync("dotnet", [BrokerProcess.HoldfastDll, "serve", "-c", path, "-p", "0"], StartTimeout);
            Assert.True(exit != 0 && exit != -1, $"started with {setting} silently ignored: exit {exit}; stdout:\n{stdout}\nstderr:\n{stderr}");
            Assert.Contains($"{path}:{line}:", stderr);
            Assert.Contains(setting, stderr);
            Assert.DoesNotContain(" running", stdout + stderr);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Missing_config_file_stops_startup_naming_the_file()
    {
        string path = TempFile(".conf");
        var (exit, stdout, stderr) = await ProcessRunner.RunAsync("dotnet", [BrokerProcess.HoldfastDll, "serve", "-c", path], StartTimeout);
        Assert.True(exit != 0 && exit != -1, $"exit {exit}; stdout:\n{stdout}\nstderr:\n{stderr}");
        Assert.Contains(path, stderr);
    }

    [Fact]
    public async Task Unwritable_log_file_stops_startup_with_a_message_not_a_crash()
    {
        string path = TempFile(".conf");
        string logPath = $"/nonexistent-{Guid.NewGuid():N}/holdfast.log";
        await File.WriteAllTextAsync(path, $"listener 1 127.0.0.1\nlog_dest file {logPath}\n");
        try
        {
            var (exit, stdout, stderr) = await ProcessRunner.RunAsync("dotnet", [BrokerProcess.HoldfastDll, "serve", "-c", path, "-p", "0"], StartTimeout);
            Assert.True(exit != 0 && exit != -1, $"exit {exit}; stdout:\n{stdout}\nstderr:\n{stderr}");
            Assert.Contains(logPath, stderr);
            Assert.DoesNotContain("Unhandled exception", stderr);
            Assert.DoesNotContain("running", stdout);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Port_already_in_use_stops_startup_with_a_message_not_a_crash()
    {
        using var occupier = new TcpListener(IPAddress.Loopback, 0);
        occupier.Start();
        int port = ((IPEndPoint)occupier.LocalEndpoint).Port;
        string path = TempFile(".conf");
        await File.WriteAllTextAsync(path, $"listener {port} 127.0.0.1\n");
        try
        {
            var (exit, stdout, stderr) = await ProcessRunner.RunAsync("dotnet", [BrokerProcess.HoldfastDll, "serve", "-c", path], StartTimeout);
            Assert.True(exit != 0 && exit != -1, $"exit {exit}; stdout:\n{stdout}\nstderr:\n{stderr}");
            Assert.Contains(port.ToString(), stderr);
            Assert.DoesNotContain("Unhandled exception", stderr);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [SkippableFact]
    public async Task Log_dest_file_writes_the_log_to_that_file()
    {
        DebianTool.Require("mosquitto_pub");
        string logPath = TempFile(".log");
        try
        {
            string id = Unique("filelog");
            await using (var broker = await BrokerProcess.StartHoldfastAsync($"log_dest file {logPath}\nlog_type all\n"))
            {
                await PublishAsync(broker.Port, "mqttv5", id, ["-t", "file/log", "-q", "1", "-m", "hello"]);
                // Lines are flushed as written, so the file shows them while the broker runs.
                await WaitForFileAsync(logPath, $"Client {id} disconnected.");
                string text = await ReadSharedAsync(logPath);
                Assert.Contains("Holdfast version", text);
                Assert.Contains($"Opening ipv4 listen socket on port {broker.Port}.", text);
                Assert.Matches($@"New client connected from 127\.0\.0\.1:\d+ as {id} \(p5, c1, k60\)", text);
            }
        }
        finally
        {
            File.Delete(logPath);
        }
    }

    [SkippableFact]
    public async Task Sigterm_sends_v5_clients_disconnect_0x8B_and_exits_0()
    {
        var broker = await BrokerProcess.StartHoldfastAsync();
        await using var _ = broker;
        await using var raw = await RawByteClient.ConnectAsync(broker.Port);
        string id = Unique("shutdown");
        await raw.ConnectMqttAsync(5, id);
        await broker.Runner.WaitForOutputAsync($" as {id} (", StartTimeout);

        broker.Runner.Signal(15);

        // Graceful shutdown: DISCONNECT with 0x8B Server shutting down, then the connection closes [MQTT-3.14.2.1].
        var packets = await raw.ReadUntilClosedAsync(StartTimeout);
        var disconnect = Assert.Single(packets);
        Assert.Equal(14, disconnect.Type);
        Assert.Equal(0x8B, disconnect.Body[0]);

        Assert.True(await broker.Runner.WaitForExitAsync(StartTimeout), "holdfast serve did not exit after SIGTERM");
        Assert.True(broker.Runner.ExitCode == 0, $"exit code {broker.Runner.ExitCode}; stderr:\n{broker.Runner.Stderr}");
        Assert.Contains("terminating", broker.Runner.Stdout);
    }

    [Fact]
    public async Task Sigterm_closes_311_clients_without_a_disconnect_packet_and_exits_0()
    {
        var broker = await BrokerProcess.StartHoldfastAsync();
        await using var _ = broker;
        await using var v311 = await RawByteClient.ConnectAsync(broker.Port);
        await using var v5 = await RawByteClient.ConnectAsync(broker.Port);
        string id311 = Unique("old"), id5 = Unique("new");
        await v311.ConnectMqttAsync(4, id311);
        await v5.ConnectMqttAsync(5, id5);
        await broker.Runner.WaitForOutputAsync($" as {id311} (", StartTimeout);
        await broker.Runner.WaitForOutputAsync($" as {id5} (", StartTimeout);

        broker.Runner.Signal(15);

        // MQTT 3.1.1 has no server-to-client DISCONNECT: the connection just closes. Each client is told in its own protocol.
        Assert.Empty(await v311.ReadUntilClosedAsync(StartTimeout));
        var disconnect = Assert.Single(await v5.ReadUntilClosedAsync(StartTimeout));
        Assert.Equal([14, 0x8B], [disconnect.Type, disconnect.Body[0]]);
        Assert.True(await broker.Runner.WaitForExitAsync(StartTimeout), "holdfast serve did not exit after SIGTERM");
        Assert.Equal(0, broker.Runner.ExitCode);
    }

    [SkippableFact]
    public async Task Port_option_overrides_the_configured_listener_port()
    {
        int port = FreePort();
        string path = TempFile(".conf");
        await File.WriteAllTextAsync(path, "listener 1 127.0.0.1\nallow_anonymous true\nlog_dest stdout\n");
        await using var broker = ProcessRunner.Start("dotnet", [BrokerProcess.HoldfastDll, "serve", "-c", path, "-p", port.ToString(), "-v"]);
        try
        {
            await broker.WaitForOutputAsync("running", StartTimeout);
            Assert.Contains($"Opening ipv4 listen socket on port {port}.", broker.Stdout);
            string topic = Unique("port") + "/t";
            string subId = Unique("sub");
            await using var sub = StartSub(port, "mqttv5", subId, "-t", topic, "-C", "1");
            await broker.WaitForOutputAsync(SubAckSent(subId), StartTimeout);
            await PublishAsync(port, "mqttv5", Unique("pub"), ["-t", topic, "-m", "on the chosen port"]);
            Assert.Equal(["on the chosen port"], await LinesAfterExitAsync(sub));
        }
        finally
        {
            broker.Signal(15);
            await broker.WaitForExitAsync(StartTimeout);
            File.Delete(path);
        }
    }

    /// <summary>The local addresses with a socket listening on <paramref name="port"/>, from /proc/net/tcp and tcp6
    /// (state 0A): "127.0.0.1", "::1", "0.0.0.0", "::".</summary>
    private static List<string> ListeningAddresses(int port)
    {
        var addresses = new List<string>();
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table)) continue;
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var local = fields[1].Split(':');
                if (fields[3] != "0A" || Convert.ToInt32(local[1], 16) != port) continue;
                // The kernel writes the address as 32-bit words in host (little-endian) order.
                var bytes = Convert.FromHexString(local[0]);
                for (int i = 0; i < bytes.Length; i += 4) Array.Reverse(bytes, i, 4);
                addresses.Add(new IPAddress(bytes).ToString());
            }
        }
        return addresses;
    }

    [SkippableFact]
    public async Task Without_a_config_it_listens_on_localhost_1883_only()
    {
        Skip.IfNot(PortIsFree(IPAddress.Loopback, 1883) && PortIsFree(IPAddress.IPv6Loopback, 1883),
            "port 1883 is in use on this machine (another broker?); the no-config default cannot be tested here");
        DebianTool.Require("mosquitto_sub");

        // -v keeps the default listener (no config file) and adds the packet trace used to see the SUBACK. The default
        // data directory is holdfast.db in the working directory, as Mosquitto writes mosquitto.db there.
        string workingDirectory = Directory.CreateTempSubdirectory("holdfast-default-").FullName;
        await using var broker = ProcessRunner.Start("dotnet", [BrokerProcess.HoldfastDll, "serve", "-v"], workingDirectory: workingDirectory);
        try
        {
            await broker.WaitForOutputAsync("running", StartTimeout);
            Assert.True(File.Exists(Path.Combine(workingDirectory, "holdfast.db", "CURRENT")), "no store in holdfast.db under the working directory");
            string all = broker.Stdout + broker.Stderr;
            Assert.Contains("Opening ipv4 listen socket on port 1883.", all);
            // Mosquitto 2's local-only mode: loopback addresses only, never the wildcard address (as the kernel lists them).
            Assert.Contains("127.0.0.1", ListeningAddresses(1883));
            Assert.DoesNotContain("0.0.0.0", ListeningAddresses(1883));
            Assert.DoesNotContain("::", ListeningAddresses(1883));

            string topic = Unique("default") + "/t";
            string subId = Unique("sub");
            await using var sub = StartSub(1883, "mqttv311", subId, "-t", topic, "-C", "1");
            await broker.WaitForOutputAsync(SubAckSent(subId), StartTimeout);
            await PublishAsync(1883, "mqttv311", Unique("pub"), ["-t", topic, "-q", "1", "-m", "anonymous on localhost"]);
            Assert.Equal(["anonymous on localhost"], await LinesAfterExitAsync(sub));
        }
        finally
        {
            // Stopped by its own pid, never by name.
            broker.Signal(15);
            Assert.True(await broker.WaitForExitAsync(StartTimeout), "holdfast serve did not exit after SIGTERM");
            Directory.Delete(workingDirectory, recursive: true);
        }
        Assert.Equal(0, broker.ExitCode);
    }

    private static bool PortIsFree(IPAddress address, int port)
    {
        try
        {
            var listener = new TcpListener(address, port);
            listener.Start();
            listener.Stop();
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressNotAvailable && address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            return true; // no IPv6 loopback here: nothing can be listening on it
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static async Task<string> ReadSharedAsync(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }

    /// <summary>Polls the file until it contains <paramref name="fragment"/> (the event), failing after a generous timeout.</summary>
    private static async Task WaitForFileAsync(string path, string fragment)
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        string text = "";
        while (DateTime.UtcNow < deadline)
        {
            if (File.Exists(path) && (text = await ReadSharedAsync(path)).Contains(fragment)) return;
            await Task.Delay(50);
        }
        throw new TimeoutException($"'{fragment}' never appeared in {path}:\n{text}");
    }
}
