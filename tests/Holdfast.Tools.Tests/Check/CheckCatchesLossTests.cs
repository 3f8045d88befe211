using System.Diagnostics;
using System.Text.Json;
using Holdfast.Protocol;
using Xunit.Abstractions;
using Holdfast.Tools.Tests.Infrastructure;

namespace Holdfast.Tools.Tests.Check;

/// <summary>
/// `holdfast check` against a broker that breaks its promises: Holdfast behind a <see cref="LossyBroker"/> that drops,
/// duplicates or reorders deliveries while the broker believes they went out correctly. check must fail each run with
/// the count that names the misbehaviour, and pass the same setup when the relay only forwards. Each count is compared
/// with what the relay actually did, so a report that counts something else fails too.
/// </summary>
public sealed class CheckCatchesLossTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("holdfast-lossy-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }

    /// <summary>Runs check through <paramref name="relay"/> for 4 seconds: one QoS 1 and one QoS 2 publisher at 20
    /// messages a second, two subscribers. Returns the exit code, the JSON report and the output for failure messages.</summary>
    private async Task<(int ExitCode, JsonElement Report, string Output)> CheckAsync(LossyBroker relay, params string[] extra)
    {
        string json = Path.Combine(_directory, $"report-{Guid.NewGuid():N}.json");
        var clock = Stopwatch.StartNew();
        var (exitCode, stdout, stderr) = await HoldfastCli.RunAsync(["check", "--json", json, "-h", "127.0.0.1", "-p", relay.Port.ToString(),
            "-d", "4", "--publishers", "2", "--qos", "1,2", "--rate", "20", "--seed", "1", .. extra]);
        output.WriteLine($"check through the {relay.Mode} relay: exit {exitCode} after {clock.Elapsed.TotalSeconds:F1} s");
        string text = $"exit {exitCode}\nstdout:\n{stdout}\nstderr:\n{stderr}\nrelay errors:\n{string.Join("\n", relay.Errors)}";
        Assert.True(File.Exists(json), $"no JSON report. {text}");
        string report = await File.ReadAllTextAsync(json);
        using var document = JsonDocument.Parse(report);
        return (exitCode, document.RootElement.Clone(), $"{text}\nreport:\n{report}");
    }

    private static JsonElement QoS(JsonElement report, QualityOfService qos) =>
        report.GetProperty("qos").EnumerateArray().Single(q => q.GetProperty("qos").GetInt32() == (int)qos);

    private static long Count(JsonElement report, QualityOfService qos, string field) => QoS(report, qos).GetProperty(field).GetInt64();

    private static string[] Violations(JsonElement report) => [.. report.GetProperty("violations").EnumerateArray().Select(v => v.GetString()!)];

    private static string[] Unsettled(JsonElement report) => [.. report.GetProperty("unsettled").EnumerateArray().Select(v => v.GetString()!)];

    /// <summary>Exit code 1 and FAIL, with messages acknowledged at both QoS levels (so the run proved something).</summary>
    private static void AssertFailed(LossyBroker relay, int exitCode, JsonElement report, string output)
    {
        Assert.True(exitCode == 1, output);
        Assert.Equal("FAIL", report.GetProperty("verdict").GetString());
        Assert.True(Count(report, QualityOfService.AtLeastOnce, "acknowledged") > 0, output);
        Assert.True(Count(report, QualityOfService.ExactlyOnce, "acknowledged") > 0, output);
        Assert.Empty(report.GetProperty("sessionsLost").EnumerateArray());
        Assert.Equal(0, report.GetProperty("unexpected").GetInt64());
        Assert.Empty(relay.Errors);
    }

    [Fact]
    public async Task Passes_through_a_relay_that_forwards_everything()
    {
        await using var broker = await BrokerProcess.StartAsync("holdfast");
        await using var relay = LossyBroker.Start(broker.Port, LossMode.PassThrough);
        var (exitCode, report, output) = await CheckAsync(relay);

        Assert.True(exitCode == 0, output);
        Assert.Equal("PASS", report.GetProperty("verdict").GetString());
        Assert.Empty(Violations(report));
        Assert.Empty(Unsettled(report));
        Assert.True(report.GetProperty("drainComplete").GetBoolean(), output);
        foreach (var qos in new[] { QualityOfService.AtLeastOnce, QualityOfService.ExactlyOnce })
        {
            Assert.True(Count(report, qos, "acknowledged") > 0, output);
            Assert.Equal(0, Count(report, qos, "lost"));
            Assert.Equal(0, Count(report, qos, "duplicates"));
            Assert.Equal(0, Count(report, qos, "outOfOrder"));
        }
        // Every delivery check counted went through the relay.
        long received = Count(report, QualityOfService.AtLeastOnce, "received") + Count(report, QualityOfService.ExactlyOnce, "received");
        Assert.True(relay.Forwarded >= received && received > 0, $"relay forwarded {relay.Forwarded}, check received {received}\n{output}");
        Assert.Empty(relay.Errors);
    }

    [Fact]
    public async Task A_broker_that_stops_acknowledging_halfway_is_inconclusive_not_a_pass()
    {
        await using var broker = await BrokerProcess.StartAsync("holdfast");
        // 20 acknowledgements reach the publishers, then none: their windows fill and the drain cannot finish.
        await using var relay = LossyBroker.Start(broker.Port, LossMode.StopAcknowledging, every: 20);
        var (exitCode, report, output) = await CheckAsync(relay, "--drain-timeout", "2");

        Assert.True(exitCode == 3, output);
        Assert.Equal("INCONCLUSIVE", report.GetProperty("verdict").GetString());
        // Nothing it acknowledged was lost: no violation, only what the run could not settle.
        Assert.Empty(Violations(report));
        Assert.True(relay.Withheld > 0, output);
        Assert.False(report.GetProperty("drainComplete").GetBoolean(), output);
        long acknowledged = Count(report, QualityOfService.AtLeastOnce, "acknowledged") + Count(report, QualityOfService.ExactlyOnce, "acknowledged");
        long unacknowledged = Count(report, QualityOfService.AtLeastOnce, "unacknowledged") + Count(report, QualityOfService.ExactlyOnce, "unacknowledged");
        Assert.True(acknowledged == 20, output);
        Assert.True(unacknowledged > 0, output);
        var unsettled = Unsettled(report);
        Assert.Contains($"{unacknowledged} QoS 1/2 messages were still unacknowledged at the end: whether the broker would have kept them is not known", unsettled);
        Assert.Contains(unsettled, u => u.StartsWith("the drain timed out after "));
        Assert.Empty(relay.Errors);
    }

    [Fact]
    public async Task Catches_a_broker_that_acknowledges_deliveries_it_never_makes()
    {
        await using var broker = await BrokerProcess.StartAsync("holdfast");
        await using var relay = LossyBroker.Start(broker.Port, LossMode.Drop, every: 7);
        // The lost messages never arrive: the drain can only time out.
        var (exitCode, report, output) = await CheckAsync(relay, "--drain-timeout", "2");

        AssertFailed(relay, exitCode, report, output);
        Assert.False(report.GetProperty("drainComplete").GetBoolean(), output);
        // What the drain still awaited when it timed out is exactly what is counted as lost.
        long awaited = report.GetProperty("awaitedAtDrainEnd").GetInt64();
        Assert.True(awaited == relay.Dropped(QualityOfService.AtLeastOnce) + relay.Dropped(QualityOfService.ExactlyOnce), output);
        Assert.Contains(Unsettled(report), u => u.StartsWith($"the drain timed out after ") && u.Contains($": {awaited} acknowledged deliveries were still awaited (counted as lost)"));
        var violations = Violations(report);
        foreach (var qos in new[] { QualityOfService.AtLeastOnce, QualityOfService.ExactlyOnce })
        {
            // Each dropped PUBLISH is one acknowledged message one subscriber never received: no more, no fewer.
            long lost = Count(report, qos, "lost");
            Assert.True(relay.Dropped(qos) > 0, output);
            Assert.True(lost == relay.Dropped(qos), $"QoS {(int)qos}: relay dropped {relay.Dropped(qos)}, check lost {lost}\n{output}");
            Assert.Contains($"QoS {(int)qos}: {lost} acknowledged deliveries lost (not received by the end of the drain)", violations);
            Assert.Equal(0, Count(report, qos, "duplicates"));
            Assert.Equal(0, Count(report, qos, "outOfOrder"));
            var sample = QoS(report, qos).GetProperty("lostSamples")[0];
            Assert.True(sample.GetProperty("last").GetInt64() >= sample.GetProperty("first").GetInt64(), output);
        }
    }

    [Fact]
    public async Task Catches_a_broker_that_delivers_a_QoS_2_message_twice()
    {
        await using var broker = await BrokerProcess.StartAsync("holdfast");
        await using var relay = LossyBroker.Start(broker.Port, LossMode.DuplicateQoS2, every: 5);
        var (exitCode, report, output) = await CheckAsync(relay);

        AssertFailed(relay, exitCode, report, output);
        // Nothing is missing: every message arrived, some of them twice.
        Assert.True(report.GetProperty("drainComplete").GetBoolean(), output);
        long duplicates = Count(report, QualityOfService.ExactlyOnce, "duplicates");
        Assert.True(relay.Duplicated > 0, output);
        Assert.True(duplicates == relay.Duplicated, $"relay duplicated {relay.Duplicated}, check counted {duplicates}\n{output}");
        Assert.Equal([$"QoS 2: {duplicates} duplicates (exactly once broken)"], Violations(report));
        foreach (var qos in new[] { QualityOfService.AtLeastOnce, QualityOfService.ExactlyOnce })
        {
            Assert.Equal(0, Count(report, qos, "lost"));
            Assert.Equal(0, Count(report, qos, "outOfOrder"));
        }
        Assert.Equal(0, Count(report, QualityOfService.AtLeastOnce, "duplicates"));
    }

    [Fact]
    public async Task Catches_a_broker_that_delivers_out_of_order()
    {
        await using var broker = await BrokerProcess.StartAsync("holdfast");
        await using var relay = LossyBroker.Start(broker.Port, LossMode.Reorder, every: 7);
        var (exitCode, report, output) = await CheckAsync(relay);

        AssertFailed(relay, exitCode, report, output);
        Assert.True(report.GetProperty("drainComplete").GetBoolean(), output);
        var violations = Violations(report);
        foreach (var qos in new[] { QualityOfService.AtLeastOnce, QualityOfService.ExactlyOnce })
        {
            // Each held PUBLISH arrives once, right after its successor: one message out of order per swap.
            long outOfOrder = Count(report, qos, "outOfOrder");
            Assert.True(relay.Reordered(qos) > 0, output);
            Assert.True(outOfOrder == relay.Reordered(qos), $"QoS {(int)qos}: relay reordered {relay.Reordered(qos)}, check counted {outOfOrder}\n{output}");
            Assert.Contains($"QoS {(int)qos}: {outOfOrder} messages out of order", violations);
            Assert.Equal(0, Count(report, qos, "lost"));
            Assert.Equal(0, Count(report, qos, "duplicates"));
        }
    }
}
