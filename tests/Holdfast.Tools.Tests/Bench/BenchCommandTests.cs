using System.Text.Json;
using Holdfast.Tools.Tests.Infrastructure;

namespace Holdfast.Tools.Tests.Bench;

/// <summary>`holdfast bench` end to end: the real command against each broker, short runs, JSON checked field by field.</summary>
public class BenchCommandTests
{
    // Unlimited queues on both brokers: under full load Mosquitto 2.0.11 drops QoS 1 messages for a subscriber that keeps
    // up once max_queued_messages (1000 by default) is reached, and these tests are about the generator, not that.
    private const string Limits = "max_inflight_messages 100\nmax_queued_messages 0\n";
    private static readonly string[] Short = ["-d", "1", "--warmup", "0.5", "--json"];

    public static TheoryData<string, string> Scenarios()
    {
        var data = new TheoryData<string, string>();
        foreach (var broker in new[] { "holdfast", "mosquitto" })
        {
            data.Add(broker, "fan-in -q 2 --publishers 4");
            data.Add(broker, "fan-out -q 0 --subscribers 10");
            data.Add(broker, "pairs -q 1 --pairs 20 -V mqttv311");
            data.Add(broker, "connections --connections 200");
        }
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Scenarios))]
    public async Task Each_scenario_reports_what_it_measured(string brokerName, string scenario)
    {
        await using var broker = await BrokerProcess.StartAsync(brokerName, Limits);
        var report = await RunJsonAsync([.. scenario.Split(' '), "-p", broker.Port.ToString(), "--broker-pid", broker.Pid.ToString(), .. Short]);

        Assert.Equal(scenario.Split(' ')[0], report.GetProperty("scenario").GetString());
        // On a small machine the generator and the broker may well fill it: that warning is expected, nothing else is.
        Assert.DoesNotContain(report.GetProperty("warnings").EnumerateArray(), w => !w.GetString()!.Contains("of all"));
        // /proc counts CPU in 10 ms ticks: Mosquitto holding 200 idle connections for a second may well use none.
        bool idle = scenario.StartsWith("connections", StringComparison.Ordinal);
        Assert.True(idle ? report.GetProperty("broker_cpu_s").GetDouble() >= 0 : report.GetProperty("broker_cpu_s").GetDouble() > 0);
        Assert.True(report.GetProperty("broker_peak_rss_kib").GetInt64() > 0);
        Assert.True(report.GetProperty("generator_cpu_s").GetDouble() > 0);
        if (idle)
        {
            Assert.Equal(200, report.GetProperty("connections_open").GetInt32());
            Assert.Equal(0, report.GetProperty("connections_failed").GetInt32());
            Assert.True(report.TryGetProperty("kib_per_connection", out _));
            Assert.Equal(100, report.GetProperty("baseline_connections").GetInt32());   // the warm-up batch: max(100, 1%), at most half
            return;
        }
        Assert.True(report.GetProperty("delivered").GetInt64() > 0);
        Assert.True(report.GetProperty("delivered_per_s").GetDouble() > 0);
        Assert.Equal(0, report.GetProperty("duplicates").GetInt64());
        if (!scenario.Contains("-q 0"))
        {
            Assert.Equal(0, report.GetProperty("lost").GetInt64());
            Assert.Equal(0, report.GetProperty("unacknowledged").GetInt64());
        }
        double p50 = report.GetProperty("latency_p50_ms").GetDouble(), p99 = report.GetProperty("latency_p99_ms").GetDouble(), max = report.GetProperty("latency_max_ms").GetDouble();
        Assert.True(p50 > 0 && p50 <= p99 && p99 <= max, $"p50 {p50} p99 {p99} max {max}");
    }

    [SkippableFact]
    public async Task A_rate_is_kept()
    {
        await using var broker = await BrokerProcess.StartAsync("mosquitto", Limits);
        var report = await RunJsonAsync(["pairs", "--pairs", "2", "-q", "1", "--rate", "1000", "-p", broker.Port.ToString(), "-d", "2", "--warmup", "0.5", "--json"]);
        Assert.InRange(report.GetProperty("published_per_s").GetDouble(), 900, 1100);
        Assert.InRange(report.GetProperty("delivered_per_s").GetDouble(), 900, 1100);
        Assert.False(report.TryGetProperty("broker_cpu_s", out _));
    }

    [SkippableFact]
    public async Task Messages_a_broker_acknowledged_and_dropped_are_reported_lost()
    {
        // One message in flight to the subscriber and one queued: Mosquitto drops the rest for it, after PUBACKing them.
        await using var broker = await BrokerProcess.StartAsync("mosquitto", "max_inflight_messages 1\nmax_queued_messages 1\n");
        var report = await RunJsonAsync(["fan-in", "-q", "1", "--publishers", "4", "-p", broker.Port.ToString(), "-d", "1", "--warmup", "0", "--json"]);
        Assert.True(report.GetProperty("lost").GetInt64() > 0, report.ToString());
    }

    [SkippableFact]
    public async Task Subscribers_with_a_session_expiry_have_persistent_sessions_on_a_durable_broker()
    {
        // BrokerProcess's Holdfast keeps a durable store (persistence true, durability sync by default): every message routed
        // to a persistent subscriber is synced before its PUBACK, and none may be lost or duplicated on the way.
        await using var broker = await BrokerProcess.StartAsync("holdfast", Limits);
        var report = await RunJsonAsync(["fan-in", "-q", "1", "--publishers", "2", "--session-expiry", "60", "-p", broker.Port.ToString(), .. Short]);
        Assert.Contains("subscribers' sessions persistent (expiry 60 s)", report.GetProperty("description").GetString());
        Assert.True(report.GetProperty("delivered").GetInt64() > 0);
        Assert.Equal(0, report.GetProperty("lost").GetInt64());
        Assert.Equal(0, report.GetProperty("duplicates").GetInt64());
    }

    [SkippableFact]
    public async Task The_table_names_every_figure()
    {
        await using var broker = await BrokerProcess.StartAsync("holdfast", Limits);
        var (exitCode, stdout, stderr) = await HoldfastCli.RunAsync(["bench", "fan-in", "-q", "1", "--publishers", "2", "-p", broker.Port.ToString(),
            "--broker-pid", broker.Pid.ToString(), "-d", "1", "--warmup", "0.5"]);
        Assert.True(exitCode == 0, stderr);
        foreach (var label in new[] { "delivered", "msg/s", "latency", "p99", "lost 0", "generator CPU", "broker CPU", "peak" })
            Assert.Contains(label, stdout);
    }

    [Theory]
    [InlineData("fan-in -s 19", "at least 20 bytes")]
    [InlineData("fan-in -q 3", "QoS must be 0, 1 or 2")]
    [InlineData("pairs --window 0", "window")]
    [InlineData("connections --connections 1", "at least 2")]
    [InlineData("fan-out -V mqttv4", "unknown protocol version")]
    [InlineData("fan-in --broker-pid 999999999", "no process")]
    [InlineData("fan-in --bogus", "unknown option or argument '--bogus'")]
    [InlineData("fan-in --session-expiry 60 -V mqttv311", "--session-expiry needs MQTT 5")]
    [InlineData("connections --session-expiry 60", "--session-expiry is for the subscribers")]
    public async Task Bad_settings_are_refused_before_connecting(string args, string message)
    {
        var (exitCode, _, stderr) = await HoldfastCli.RunAsync(["bench", .. args.Split(' '), "-p", "1"]);
        Assert.Equal(2, exitCode);
        Assert.Contains(message, stderr);
    }

    private static async Task<JsonElement> RunJsonAsync(string[] args)
    {
        var (exitCode, stdout, stderr) = await HoldfastCli.RunAsync(["bench", .. args]);
        Assert.True(exitCode == 0, $"exit {exitCode}\n{stdout}\n{stderr}");
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }
}
