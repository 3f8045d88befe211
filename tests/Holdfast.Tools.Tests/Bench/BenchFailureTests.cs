using System.Diagnostics;
using System.Text.Json;
using Holdfast.Client;
using Holdfast.Protocol;
using Holdfast.Tools.Tests.Infrastructure;

namespace Holdfast.Tools.Tests.Bench;

/// <summary>`holdfast bench` against a broker that pauses (SIGSTOP/SIGCONT of its process) or drops a client: what the
/// report must show, or that the run fails.</summary>
public class BenchFailureTests
{
    private const string Limits = "max_inflight_messages 100\nmax_queued_messages 0\n";

    [SkippableFact]
    public async Task A_broker_pause_shows_in_rate_limited_latency()
    {
        await using var broker = await BrokerProcess.StartAsync("mosquitto", Limits);
        await using var bench = HoldfastCli.Start(["bench", "pairs", "--pairs", "1", "-q", "1", "--rate", "2000", "--window", "20",
            "-p", broker.Port.ToString(), "-d", "3", "--warmup", "0", "--json"]);
        // Paused for 500 ms once the run is publishing (a watcher sees its first message): messages due meanwhile go out
        // late, and counted from their scheduled time they show the pause. The small window matters: the messages sent on
        // time into it before it shuts wait out the pause too, and at 1% of the samples they alone would lift p99 even if
        // the rest were timed from their late send.
        await FirstBenchMessageAsync(broker.Port);
        await PauseAsync(broker.Pid, TimeSpan.FromMilliseconds(500));
        var report = await ReportAsync(bench);
        Assert.True(report.GetProperty("latency_p99_ms").GetDouble() >= 400, report.ToString());
        Assert.Equal("scheduled send time (--rate)", report.GetProperty("latency_from").GetString());
        Assert.Equal(0, report.GetProperty("lost").GetInt64());
    }

    [SkippableFact]
    public async Task A_stall_is_counted_once_and_warned_about()
    {
        await using var broker = await BrokerProcess.StartAsync("mosquitto", Limits);
        await using var bench = HoldfastCli.Start(["bench", "pairs", "--pairs", "1", "-q", "0", "-p", broker.Port.ToString(),
            "-d", "5", "--warmup", "0", "--json"]);
        // 2.5 s without delivery: the publisher gives up on its window once (after 2 s), then the broker runs again.
        await FirstBenchMessageAsync(broker.Port);
        await PauseAsync(broker.Pid, TimeSpan.FromMilliseconds(2500));
        var report = await ReportAsync(bench);
        Assert.Equal(1, report.GetProperty("stalls").GetInt64());
        Assert.Contains(report.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("nothing was delivered for 2 s"));
    }

    [SkippableFact]
    public async Task A_connection_the_broker_closes_fails_the_run()
    {
        // MQTT 3.1.1 has no Receive Maximum: 256 QoS 2 messages in flight exceed Mosquitto's 100, and it closes the connection.
        await using var broker = await BrokerProcess.StartAsync("mosquitto", Limits);
        var (exitCode, stdout, stderr) = await HoldfastCli.RunAsync(["bench", "fan-in", "-q", "2", "-V", "mqttv311", "--window", "256",
            "-p", broker.Port.ToString(), "-d", "2", "--warmup", "0.5", "--json"]);
        Assert.True(exitCode == 1, $"exit {exitCode}\n{stdout}\n{stderr}");
        Assert.Matches(@"publisher \d+'s connection ended during the run: the broker closed it", stderr);
    }

    [SkippableFact]
    public async Task Over_mqtt_3_1_1_the_default_window_is_one_mosquitto_accepts()
    {
        await using var broker = await BrokerProcess.StartAsync("mosquitto", "max_queued_messages 0\n");   // max_inflight_messages 20
        var (exitCode, stdout, stderr) = await HoldfastCli.RunAsync(["bench", "fan-in", "-q", "2", "-V", "mqttv311", "--publishers", "2",
            "-p", broker.Port.ToString(), "-d", "1", "--warmup", "0.5", "--json"]);
        Assert.True(exitCode == 0, $"exit {exitCode}\n{stdout}\n{stderr}");
        var report = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(20, report.GetProperty("window").GetInt32());
        Assert.Equal(0, report.GetProperty("lost").GetInt64());
    }

    /// <summary>Waits until a bench run on the broker has published (its topics are under bench/).</summary>
    private static async Task FirstBenchMessageAsync(int port)
    {
        await using var watcher = await MqttClientConnection.ConnectAsync(new MqttClientOptions
        {
            Host = "127.0.0.1", Port = port, Version = ProtocolVersion.V500, ClientId = "watcher-" + Guid.NewGuid().ToString("N")[..8], CleanStart = true,
        });
        watcher.Send(new SubscribePacket { PacketId = 1, Subscriptions = [new TopicSubscription { TopicFilter = "bench/#", MaximumQoS = QualityOfService.AtMostOnce }] });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await watcher.ReceiveAsync(timeout.Token) is { } packet)
            if (packet is PublishPacket) return;
        throw new IOException("the watcher's connection ended before a bench message came");
    }

    /// <summary>Stops the broker's process for <paramref name="pause"/>, then lets it run again.</summary>
    private static async Task PauseAsync(int pid, TimeSpan pause)
    {
        await SignalAsync(pid, "-STOP");
        try { await Task.Delay(pause); }
        finally { await SignalAsync(pid, "-CONT"); }
    }

    private static async Task SignalAsync(int pid, string signal)
    {
        using var kill = Process.Start("kill", [signal, pid.ToString()]);
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    private static async Task<JsonElement> ReportAsync(ProcessRunner bench)
    {
        Assert.True(await bench.WaitForExitAsync(TimeSpan.FromSeconds(60)), "bench did not end");
        Assert.True(bench.ExitCode == 0, $"exit {bench.ExitCode}\n{bench.Stdout}\n{bench.Stderr}");
        return JsonDocument.Parse(bench.Stdout).RootElement.Clone();
    }
}
