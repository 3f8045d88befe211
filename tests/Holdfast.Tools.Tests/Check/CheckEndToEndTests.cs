using System.Text.Json;
using Holdfast.Tools.Tests.Infrastructure;

namespace Holdfast.Tools.Tests.Check;

/// <summary>
/// The real `holdfast check` against real brokers. One class, so these runs (each a broker, a check and a few seconds of
/// faults) do not compete with each other for the machine's cores.
/// </summary>
public sealed class CheckEndToEndTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("holdfast-check-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }

    /// <summary>Runs check with a JSON report and returns the exit code, the report and the output (for failure messages).</summary>
    private async Task<(int ExitCode, JsonElement Report, string Output)> CheckAsync(params string[] args)
    {
        string json = Path.Combine(_directory, $"report-{Guid.NewGuid():N}.json");
        var (exitCode, stdout, stderr) = await HoldfastCli.RunAsync(["check", "--json", json, .. args], timeout: TimeSpan.FromSeconds(90));
        string output = $"exit {exitCode}\nstdout:\n{stdout}\nstderr:\n{stderr}";
        Assert.True(File.Exists(json), $"no JSON report. {output}");
        using var document = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        return (exitCode, document.RootElement.Clone(), output);
    }

    private static long Sum(JsonElement report, string field) => report.GetProperty("qos").EnumerateArray().Sum(q => q.GetProperty(field).GetInt64());

    private static void AssertPassed(int exitCode, JsonElement report, string output)
    {
        Assert.True(exitCode == 0, output);
        Assert.Equal("PASS", report.GetProperty("verdict").GetString());
        Assert.Empty(report.GetProperty("violations").EnumerateArray());
        Assert.Empty(report.GetProperty("unsettled").EnumerateArray());
        Assert.True(report.GetProperty("drainComplete").GetBoolean(), output);
        foreach (var qos in report.GetProperty("qos").EnumerateArray())
        {
            Assert.True(qos.GetProperty("acknowledged").GetInt64() > 0, output);
            Assert.Equal(0, qos.GetProperty("lost").GetInt64());
            Assert.Equal(0, qos.GetProperty("outOfOrder").GetInt64());
            // Every acknowledged message reached both subscribers (received also counts unacknowledged ones that arrived).
            Assert.True(qos.GetProperty("received").GetInt64() >= qos.GetProperty("expected").GetInt64(), output);
        }
    }

    [SkippableTheory]
    [MemberData(nameof(BrokerProcess.Names), MemberType = typeof(BrokerProcess))]
    public async Task Passes_against_a_correct_broker_with_connection_cuts_and_stalls(string name)
    {
        await using var broker = await BrokerProcess.StartAsync(name);
        // Modest load: mosquitto's defaults (20 in flight, 1000 queued per client) must not explain a loss here.
        var (exitCode, report, output) = await CheckAsync("-h", "127.0.0.1", "-p", broker.Port.ToString(), "-d", "6", "--rate", "30",
            "--cut-every", "1", "--stall-every", "2", "--stall-for", "1500", "--keepalive", "2", "--seed", "7");

        AssertPassed(exitCode, report, output);
        var faults = report.GetProperty("faults");
        Assert.True(faults.GetProperty("connectionsCut").GetInt32() > 0, output);
        Assert.True(faults.GetProperty("connectionsStalled").GetInt32() > 0, output);
        // The cuts made the clients reconnect, and every reconnect found its session.
        Assert.True(report.GetProperty("publisherConnections").GetInt32() + report.GetProperty("subscriberConnections").GetInt32() > 6, output);
        Assert.Empty(report.GetProperty("sessionsLost").EnumerateArray());
    }

    [Fact]
    public async Task Passes_against_Holdfast_over_MQTT_3_1_1_with_connection_cuts()
    {
        await using var broker = await BrokerProcess.StartAsync("holdfast");
        var (exitCode, report, output) = await CheckAsync("-h", "127.0.0.1", "-p", broker.Port.ToString(), "-V", "mqttv311", "-d", "5",
            "--rate", "30", "--qos", "0,1,2", "--publishers", "3", "--cut-every", "1", "--seed", "11");

        Assert.Equal("mqttv311", report.GetProperty("protocol").GetString());
        Assert.Equal([0, 1, 2], report.GetProperty("qos").EnumerateArray().Select(q => q.GetProperty("qos").GetInt32()));
        Assert.True(exitCode == 0, output);
        Assert.Equal("PASS", report.GetProperty("verdict").GetString());
        Assert.True(report.GetProperty("faults").GetProperty("connectionsCut").GetInt32() > 0, output);
    }

    /// <summary>The command check uses to run `holdfast serve` itself on a fixed port, with the given store settings.</summary>
    private string HoldfastCommand(int port, string storeSettings)
    {
        string config = Path.Combine(_directory, "holdfast.conf");
        File.WriteAllText(config, $"listener {port} 127.0.0.1\nallow_anonymous true\n{storeSettings}\n");
        return $"exec dotnet '{BrokerProcess.HoldfastDll}' serve -c '{config}'";
    }

    [Fact]
    public async Task Passes_against_Holdfast_killed_and_restarted_during_the_run()
    {
        int port = BrokerProcess.FreePort();
        string command = HoldfastCommand(port, $"persistence_location {_directory}/store");
        var (exitCode, report, output) = await CheckAsync("-h", "127.0.0.1", "-p", port.ToString(), "-d", "8", "--rate", "30",
            "--cut-every", "2", "--broker-command", command, "--restart-every", "3", "--seed", "3");

        AssertPassed(exitCode, report, output);
        Assert.True(report.GetProperty("faults").GetProperty("restarts").GetInt32() >= 1, output);
        Assert.Empty(report.GetProperty("sessionsLost").EnumerateArray());
        await AssertNothingListensAsync(port);
    }

    [Fact]
    public async Task Catches_a_broker_that_loses_acknowledged_messages_on_restart()
    {
        // Holdfast without its store: a SIGKILL takes every session and every queued message with it, although each was
        // acknowledged. The subscribers, which never subscribe again, then also miss everything published afterwards.
        int port = BrokerProcess.FreePort();
        string command = HoldfastCommand(port, "persistence false");
        var (exitCode, report, output) = await CheckAsync("-h", "127.0.0.1", "-p", port.ToString(), "-d", "6", "--rate", "30",
            "--broker-command", command, "--restart-every", "2", "--drain-timeout", "3", "--seed", "5");

        Assert.True(exitCode == 1, output);
        Assert.Equal("FAIL", report.GetProperty("verdict").GetString());
        Assert.True(Sum(report, "lost") > 0, output);
        Assert.True(Sum(report, "acknowledged") > 0, output);
        Assert.False(report.GetProperty("drainComplete").GetBoolean());
        Assert.Contains(report.GetProperty("sessionsLost").EnumerateArray(), s => s.GetString()!.Contains("-s0: "));
        Assert.Contains(report.GetProperty("violations").EnumerateArray(), v => v.GetString()!.Contains("acknowledged deliveries lost"));
        var sample = report.GetProperty("qos")[0].GetProperty("lostSamples")[0];
        Assert.True(sample.GetProperty("last").GetInt64() >= sample.GetProperty("first").GetInt64());
        await AssertNothingListensAsync(port);
    }

    [Theory]
    [InlineData(700)]
    [InlineData(2500)]
    public async Task Publishes_at_the_rate_asked_for_also_above_1000_a_second(int rate)
    {
        // QoS 0: no acknowledgement window to hold the publishers back, so the count shows the scheduler alone.
        await using var broker = await BrokerProcess.StartAsync("holdfast");
        var (exitCode, report, output) = await CheckAsync("-h", "127.0.0.1", "-p", broker.Port.ToString(), "-d", "3", "--rate", rate.ToString(),
            "--qos", "0", "--publishers", "2", "--subscribers", "1", "--quiet");

        Assert.True(exitCode == 0, output);
        long published = Sum(report, "published"), asked = rate * 3 * 2;
        Assert.True(Math.Abs(published - asked) <= asked / 10, $"published {published}, asked for {asked}\n{output}");
    }

    [Fact]
    public async Task A_broker_that_does_not_come_back_after_a_restart_is_a_run_error_not_a_violation()
    {
        // The broker command starts Holdfast the first time and fails every later time.
        int port = BrokerProcess.FreePort();
        string once = Path.Combine(_directory, "started-once");
        string command = $"if [ -e '{once}' ]; then echo 'not this time' >&2; exit 3; fi; touch '{once}'; "
            + HoldfastCommand(port, $"persistence_location {_directory}/store");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (exitCode, report, output) = await CheckAsync("-h", "127.0.0.1", "-p", port.ToString(), "-d", "30", "--rate", "30",
            "--broker-command", command, "--restart-every", "2", "--seed", "3");

        Assert.True(exitCode == 2, output);
        Assert.Equal("ERROR", report.GetProperty("verdict").GetString());
        string error = Assert.Single(report.GetProperty("errors").EnumerateArray()).GetString()!;
        Assert.StartsWith("broker restart 1 failed: the broker command exited with 3", error);
        Assert.Contains("not this time", error);
        Assert.Contains($"Error: broker restart 1 failed", output);
        // The error is not a violation, and the run stopped there instead of publishing on for 30 s.
        Assert.DoesNotContain(report.GetProperty("violations").EnumerateArray(), v => v.GetString()!.Contains("restart"));
        Assert.True(Sum(report, "acknowledged") > 0, output);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(25), $"took {clock.Elapsed}\n{output}");
        await AssertNothingListensAsync(port);
    }

    [Fact]
    public async Task A_report_that_cannot_be_written_exits_2_with_the_verdict_said()
    {
        await using var broker = await BrokerProcess.StartAsync("holdfast");
        // A directory where the file should go: the write fails only after the run.
        var (exitCode, _, stderr) = await HoldfastCli.RunAsync(["check", "--json", _directory, "-h", "127.0.0.1", "-p", broker.Port.ToString(),
            "-d", "1", "--rate", "20", "--quiet"]);

        Assert.True(exitCode == 2, stderr);
        Assert.Contains($"Error: cannot write the JSON report to {_directory}", stderr);
        Assert.Contains("(verdict was PASS)", stderr);
        Assert.DoesNotContain("Unhandled", stderr);
    }

    /// <summary>check stops the broker it started.</summary>
    private static async Task AssertNothingListensAsync(int port)
    {
        using var probe = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => probe.ConnectAsync("127.0.0.1", port));
    }
}
