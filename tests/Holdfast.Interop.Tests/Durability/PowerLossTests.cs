using System.Diagnostics;
using Holdfast.Interop.Tests.Infrastructure;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Xunit.Abstractions;

namespace Holdfast.Interop.Tests.Durability;

/// <summary>
/// Power loss, where <see cref="CrashTests"/> only kill the process (whose page cache survives it): `holdfast serve`
/// (durability sync) keeps its store on plfs (<see cref="PlfsMount"/>), which at a cut drops everything not fsync'd,
/// with POSIX's strict rule for directories (a new entry survives only an fsync of its directory).
///
/// The broker creates its persistence_location and store during the test, since a new store is the case that lost
/// everything: a broker that never fsync'd the directories it made lost its whole store at a cut soon after the first
/// start. Sequenced QoS 1 and QoS 2 publishers (MQTTnet, 5.0 and 3.1.1, see <see cref="CrashTests"/> for what
/// "acknowledged" means) publish throughout. A persistent subscriber goes offline at once, so everything queues in its
/// stored session; another stays connected (reconnecting after each restart), so inflight deliveries cross the cuts too.
///
/// Each cut: plfs "freeze" (the power fails: no fsync completes any more, so the broker can acknowledge nothing more on
/// the strength of one), SIGKILL of the broker by its process id, plfs "cut" (the unsynced writes are gone), and the
/// broker starts again on what survived. The first cut comes as soon as every publisher has one acknowledgement, within
/// about a second of the first start; two more come later, each after a given number of acknowledgements from the
/// running broker. At the end the offline subscriber comes back and <see cref="CrashVerdict"/> must find nothing: every
/// acknowledged message delivered to both subscribers, QoS 2 exactly once, in order, both sessions found.
/// </summary>
public sealed class PowerLossTests(ITestOutputHelper output)
{
    /// <summary>Acknowledgements each publisher gets from the running broker before each cut: one for the first, to cut early.</summary>
    private static readonly int[] AcksBeforeCut = [1, 150, 400];

    /// <summary>Acknowledgements each publisher gets from the last incarnation before the publishers stop.</summary>
    private const int AcksAfterLastRestart = 50;

    /// <summary>Each fsync takes this long, like a real disk's: cuts then often land while a written batch is not yet durable.</summary>
    private const int FsyncDelayUs = 2000;

    /// <summary>How late the first cut may come: ext4 commits a new directory entry within about 5 s by itself, so a cut
    /// later than that would no longer test the broker's own directory fsync on a real disk.</summary>
    private static readonly TimeSpan FirstCutBy = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan TrafficResumes = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Drain = TimeSpan.FromSeconds(30);

    [SkippableFact]
    public async Task Acknowledged_messages_survive_power_cuts_from_the_first_second_of_a_new_store()
    {
        var clock = Stopwatch.StartNew();
        await using var plfs = await PlfsMount.MountAsync(FsyncDelayUs);
        // Does not exist yet: the broker makes it, and its store in it.
        string location = Path.Combine(plfs.Path, "store");
        await using var broker = await RestartingBroker.StartAsync("durability sync\nmax_queued_messages 0\n", location);
        var sinceFirstStart = Stopwatch.StartNew();
        Say($"plfs mounted and incarnation 1 running on port {broker.Current.Port} at {clock.Elapsed.TotalSeconds:F1} s; store {broker.DataDirectory}");

        PublisherLedger[] publishedBy =
        [
            new("power-pub-q1-v5", "power/pub-q1-v5", MqttQualityOfServiceLevel.AtLeastOnce, MqttProtocolVersion.V500),
            new("power-pub-q1-v311", "power/pub-q1-v311", MqttQualityOfServiceLevel.AtLeastOnce, MqttProtocolVersion.V311),
            new("power-pub-q2-v5", "power/pub-q2-v5", MqttQualityOfServiceLevel.ExactlyOnce, MqttProtocolVersion.V500),
            new("power-pub-q2-v311", "power/pub-q2-v311", MqttQualityOfServiceLevel.ExactlyOnce, MqttProtocolVersion.V311),
        ];
        var offline = new CrashSubscriber(broker, new SubscriberLedger("power-sub-offline-v5", MqttProtocolVersion.V500), "power/#",
            MqttQualityOfServiceLevel.ExactlyOnce);
        var online = new CrashSubscriber(broker, new SubscriberLedger("power-sub-online-v311", MqttProtocolVersion.V311), "power/#",
            MqttQualityOfServiceLevel.ExactlyOnce);
        CrashSubscriber[] subscribers = [offline, online];
        var publishers = publishedBy.Select(p => new CrashPublisher(broker, p)).ToArray();
        bool evidenced = false;
        bool PrintEvidence()
        {
            if (evidenced) return false;
            evidenced = true;
            Summarise(publishedBy, subscribers);
            foreach (var line in broker.Evidence()) Say(line);
            Say("--- plfs ---");
            foreach (var line in plfs.Log.Split('\n').TakeLast(40)) Say("  " + line);
            return false;
        }
        try
        {
            await offline.ConnectAndSubscribeAsync();
            await offline.GoAwayAsync();
            await online.ConnectAndSubscribeAsync();
            foreach (var p in publishers) p.Start();

            for (int cut = 1; cut <= AcksBeforeCut.Length; cut++)
            {
                var running = broker.Current;
                int acks = AcksBeforeCut[cut - 1];
                await Waits.UntilAsync(() => publishers.All(p => p.AcknowledgedBy(running) >= acks),
                    $"{acks} acknowledgement(s) per publisher from incarnation {running.Incarnation}", TrafficResumes);
                plfs.Freeze();
                var frozenAt = sinceFirstStart.Elapsed;
                int acknowledged = publishedBy.Sum(p => p.AcknowledgedCount);
                string report = "";
                var restart = await broker.KillAndRestartAsync(async () => report = await plfs.CutAsync());
                Say($"cut {cut} at {clock.Elapsed.TotalSeconds:F1} s, {frozenAt.TotalMilliseconds:F0} ms after the first start " +
                    $"({acknowledged} acknowledged so far); incarnation {broker.Current.Incarnation} on port {broker.Current.Port} " +
                    $"after {restart.TotalMilliseconds:F0} ms");
                foreach (var line in report.Split('\n').Where(l => l.StartsWith("cut:", StringComparison.Ordinal) || l.Contains(" dir ")))
                    Say("  plfs " + line.Trim());
                if (cut == 1)
                    Assert.True(frozenAt < FirstCutBy, $"the first cut came {frozenAt.TotalSeconds:F1} s after the first start, not within {FirstCutBy.TotalSeconds} s");
                // The offline subscriber's session holds every message acknowledged so far: the store must bring back both
                // sessions and at least that many messages (an empty store logs no "Recovered" line at all).
                Assert.True(RecoveredAtLeast(broker.Process, acknowledged),
                    $"after cut {cut} the broker did not recover both sessions and the {acknowledged} acknowledged message(s): " +
                    (RecoveryText(broker.Process) ?? "no Recovered line, the store came back empty"));
                Say($"  {RecoveryText(broker.Process)}");
            }

            var last = broker.Current;
            await Waits.UntilAsync(() => publishers.All(p => p.AcknowledgedBy(last) >= AcksAfterLastRestart),
                $"{AcksAfterLastRestart} acknowledgements per publisher from the last incarnation", TrafficResumes);
            foreach (var p in publishers) await p.StopAsync();
            offline.ComeBack();
            Say($"publishers stopped at {clock.Elapsed.TotalSeconds:F1} s; the offline subscriber comes back");

            bool drained = true;
            try
            {
                await Waits.UntilAsync(() => subscribers.All(s => publishedBy.All(p => s.Ledger.HasAll(p.Name, p.AcknowledgedSequences))),
                    "both subscribers to receive every acknowledged message", Drain);
                // A bounded watch for late duplicates, after the positive control (everything acknowledged arrived).
                await Task.Delay(Waits.Quiet);
            }
            catch (TimeoutException)
            {
                drained = false; // the verdict below says what is missing
            }
            Say($"drain {(drained ? "complete" : "INCOMPLETE")} at {clock.Elapsed.TotalSeconds:F1} s");
            Summarise(publishedBy, subscribers);

            var breaches = CrashVerdict.Check(publishedBy, subscribers.Select(s => s.Ledger).ToList());
            foreach (var p in publishedBy)
                foreach (var (sequence, reason) in p.RefusedSequences.Take(5))
                    breaches.Add($"{p.Name} #{sequence} refused ({reason}): queues are unlimited here, nothing should be refused");
            if (breaches.Count > 0)
                Assert.Fail($"{breaches.Count} breach(es) of the delivery contract after {AcksBeforeCut.Length} power cuts:\n" + string.Join("\n", breaches));

            // The run proved something only if the cuts hit live traffic and both sessions were really resumed.
            Assert.True(publishedBy.Sum(p => p.InDoubtSequences.Length) >= 1, "no publish was cut by a power cut");
            Assert.Equal(2, offline.Ledger.Connections);
            Assert.True(online.Ledger.Connections >= AcksBeforeCut.Length + 1,
                $"{online.Ledger.ClientId} connected {online.Ledger.Connections} times for {AcksBeforeCut.Length + 1} incarnations");
            Say($"done in {clock.Elapsed.TotalSeconds:F1} s");
        }
        catch (Exception) when (PrintEvidence())
        {
            // Not reached: the filter prints the summary, the broker's and plfs's output, then lets the failure through.
        }
        finally
        {
            foreach (var p in publishers) await p.DisposeAsync();
            foreach (var s in subscribers) await s.DisposeAsync();
        }
    }

    private static bool RecoveredAtLeast(BrokerProcess broker, int messages) =>
        RecoveryText(broker) is not null && broker.Recovery() is { Sessions: 2 } line && line.Queued + line.Inflight >= messages;

    private static string? RecoveryText(BrokerProcess broker) =>
        broker.Runner.Stdout.Split('\n').FirstOrDefault(l => l.Contains("Recovered ", StringComparison.Ordinal))?.Trim();

    private void Summarise(PublisherLedger[] publishedBy, CrashSubscriber[] subscribers)
    {
        foreach (var p in publishedBy)
            Say($"{p.Name} (q{(int)p.QoS}): {p.AcknowledgedCount} acknowledged, {p.InDoubtSequences.Length} in doubt, " +
                $"{p.RefusedSequences.Length} refused, {p.Connections} connections");
        foreach (var s in subscribers)
            Say($"{s.Ledger.ClientId}: {s.Ledger.Deliveries.Length} deliveries, {s.Ledger.Connections} connections, " +
                $"{s.Ledger.DiscardedQoS2Resends} QoS 2 resends held back as a compliant receiver would");
    }

    private void Say(string line) => output.WriteLine(line);
}
