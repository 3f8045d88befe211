using System.Diagnostics;
using Holdfast.Interop.Tests.Infrastructure;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Xunit.Abstractions;

namespace Holdfast.Interop.Tests.Durability;

/// <summary>
/// Crash tests (issue 3, DESIGN.md §2.4): `holdfast serve` runs as a child process on one data directory while
/// sequenced QoS 1 and QoS 2 publishers and persistent subscribers (MQTTnet, MQTT 5 and 3.1.1) exchange messages; the
/// broker is SIGKILLed at random points several times and started again on the same directory (a new ephemeral port
/// each time; the clients reconnect to it). After a final drain the test proves, at every subscriber and for every
/// publisher: (a) every message acknowledged to the publisher was received; (b) no QoS 2 message was received twice;
/// (c) order: the first occurrences of sequence numbers increase (a QoS 1 duplicate may repeat an earlier number, which
/// at-least-once allows, but a new number never comes after a higher one); (d) nothing arrives that was not published.
///
/// What "acknowledged" means with MQTTnet 5, and why a failed publish is never resent:
/// - MQTTnet's IMqttClient keeps no outgoing state across connections. When the connection drops, a PublishAsync still
///   waiting for its PUBACK / PUBREC / PUBCOMP fails, nothing is resent on reconnect, and packet ids start again at 1.
/// - Acknowledged = PublishAsync returned reason Success: QoS 1 after the PUBACK, QoS 2 after PUBREC and PUBCOMP
///   (MQTTnet returns only then). A QoS 2 publish that got its PUBREC but lost its PUBCOMP to the kill therefore counts
///   as in doubt, although the broker vouched for it at PUBREC: it is then merely not required by (a).
/// - A publish that failed is in doubt: the broker may have stored it and died before the acknowledgement left, or not.
///   The publisher does not resend it; it goes on with the next sequence number. Resending the same number would be a
///   new PUBLISH (new packet id, DUP=0), i.e. a second message for the broker, and a QoS 2 subscriber could then rightly
///   receive that number twice, so (b) could no longer tell a broker duplicate from the publisher's own. In-doubt
///   numbers may arrive (at most once for QoS 2, in order) or not.
/// - Publishers use clean sessions. MQTTnet does not resume an unfinished QoS 2 flow after a reconnect and reuses packet
///   ids from 1; with a persistent publisher session the broker would rightly take a new PUBLISH on an id still
///   awaiting PUBREL for the resend of the old one and drop it: a client fault, not a broker loss. (Inbound QoS 2 ids
///   across a restart are for the restart tests with a raw client, which can resend exactly.)
/// - Subscribers have persistent sessions (3.1.1 CleanSession=0; 5.0 CleanStart=0, Session Expiry 600 s), subscribe
///   once, and after each restart only reconnect: every CONNACK after the first must say session present. MQTTnet
///   gives a QoS 2 resend (DUP=1) to the application again; <see cref="SubscriberLedger"/> keeps the receiver-side
///   packet-id state a compliant client keeps, so a QoS 2 duplicate counted by (b) is one the broker really caused.
///
/// The random kill delays come from a fixed seed, printed in the output and in every failure message.
/// </summary>
public sealed class CrashTests(ITestOutputHelper output)
{
    /// <summary>Each kill waits until every publisher is acknowledged by the running broker, then this long (random) more.</summary>
    private const int MinKillDelayMs = 300, MaxKillDelayMs = 1500;

    /// <summary>Acknowledgements each publisher gets from the last incarnation before the publishers stop.</summary>
    private const int AcksAfterLastRestart = 50;

    private static readonly TimeSpan TrafficResumes = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Drain = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(20250611, 4, "sync")]
    [InlineData(4242, 3, "os")]
    public async Task Acknowledged_messages_survive_repeated_sigkill_in_order_and_qos2_exactly_once(int seed, int kills, string durability)
    {
        var clock = Stopwatch.StartNew();
        Say($"seed {seed}, {kills} kills, durability {durability}");
        var killDelays = new Random(seed);
        await using var broker = await RestartingBroker.StartAsync($"durability {durability}\nmax_queued_messages 0\n");
        Say($"data directory {broker.DataDirectory}; incarnation 1 on port {broker.Current.Port}");

        PublisherLedger[] publishedBy =
        [
            new("crash-pub-q1-v5", "crash/pub-q1-v5", MqttQualityOfServiceLevel.AtLeastOnce, MqttProtocolVersion.V500),
            new("crash-pub-q1-v311", "crash/pub-q1-v311", MqttQualityOfServiceLevel.AtLeastOnce, MqttProtocolVersion.V311),
            new("crash-pub-q2-v5", "crash/pub-q2-v5", MqttQualityOfServiceLevel.ExactlyOnce, MqttProtocolVersion.V500),
            new("crash-pub-q2-v311", "crash/pub-q2-v311", MqttQualityOfServiceLevel.ExactlyOnce, MqttProtocolVersion.V311),
        ];
        // Subscribed at QoS 2, so each message arrives at its publisher's QoS. The 3.1.1 subscriber lags: after losing
        // its connection it stays away a random while, so some kills find its session offline with messages queued.
        CrashSubscriber[] subscribers =
        [
            new(broker, new SubscriberLedger("crash-sub-v5", MqttProtocolVersion.V500), "crash/#", MqttQualityOfServiceLevel.ExactlyOnce),
            new(broker, new SubscriberLedger("crash-sub-v311-lagging", MqttProtocolVersion.V311), "crash/#", MqttQualityOfServiceLevel.ExactlyOnce,
                lag: new Random(seed + 1)),
        ];
        var publishers = publishedBy.Select(p => new CrashPublisher(broker, p)).ToArray();
        bool summarised = false, evidenced = false;
        void Summarise()
        {
            if (summarised) return;
            summarised = true;
            foreach (var p in publishedBy)
                Say($"{p.Name} (q{(int)p.QoS}): {p.AcknowledgedCount} acknowledged, {p.InDoubtSequences.Length} in doubt " +
                    $"[{CrashVerdict.Range(p.InDoubtSequences)}; {p.Failures}], {p.RefusedSequences.Length} refused, {p.Connections} connections");
            foreach (var s in subscribers)
                Say($"{s.Ledger.ClientId}: {s.Ledger.Deliveries.Length} deliveries, {s.Ledger.Connections} connections, {s.Ledger.PubRels} PUBRELs, " +
                    $"{s.Ledger.DiscardedQoS2Resends} QoS 2 resends held back as a compliant receiver would");
        }
        bool PrintEvidence()
        {
            Summarise();
            if (!evidenced)
            {
                evidenced = true;
                Say($"seed {seed}, durability {durability}: broker output follows");
                foreach (var line in broker.Evidence()) Say(line);
            }
            return false;
        }
        try
        {
            foreach (var s in subscribers) await s.ConnectAndSubscribeAsync();
            foreach (var p in publishers) p.Start();

            for (int kill = 1; kill <= kills; kill++)
            {
                var running = broker.Current;
                await Waits.UntilAsync(() => publishers.All(p => p.AcknowledgedBy(running) > 0),
                    $"every publisher to be acknowledged by incarnation {running.Incarnation} (seed {seed})", TrafficResumes);
                int delay = killDelays.Next(MinKillDelayMs, MaxKillDelayMs);
                // A random point in the traffic, not a wait for a condition.
                await Task.Delay(delay);
                int acknowledged = publishedBy.Sum(p => p.AcknowledgedCount);
                string underWay = string.Join(", ", publishers.Select(p => $"#{p.InFlight}"));
                var restart = await broker.KillAndRestartAsync();
                Say($"kill {kill} at {clock.Elapsed.TotalSeconds:F1} s, {delay} ms into incarnation {running.Incarnation}'s traffic " +
                    $"({acknowledged} acknowledged so far, publishes under way {underWay}); incarnation {broker.Current.Incarnation} on port {broker.Current.Port} " +
                    $"after {restart.TotalMilliseconds:F0} ms");
            }

            var last = broker.Current;
            await Waits.UntilAsync(() => publishers.All(p => p.AcknowledgedBy(last) >= AcksAfterLastRestart),
                $"{AcksAfterLastRestart} acknowledgements per publisher from the last incarnation (seed {seed})", TrafficResumes);
            foreach (var s in subscribers) s.StopLagging();
            foreach (var p in publishers) await p.StopAsync();
            Say($"publishers stopped at {clock.Elapsed.TotalSeconds:F1} s");

            bool drained = true;
            try
            {
                await Waits.UntilAsync(() => subscribers.All(s => publishedBy.All(p => s.Ledger.HasAll(p.Name, p.AcknowledgedSequences))),
                    "every subscriber to receive every acknowledged message", Drain);
                // A bounded watch for late duplicates, after the positive control (everything acknowledged arrived).
                await Task.Delay(Waits.Quiet);
            }
            catch (TimeoutException)
            {
                drained = false;
            }
            Say($"drain {(drained ? "complete" : "INCOMPLETE")} at {clock.Elapsed.TotalSeconds:F1} s");

            Summarise();
            var breaches = CrashVerdict.Check(publishedBy, subscribers.Select(s => s.Ledger).ToList());
            foreach (var p in publishedBy)
                foreach (var (sequence, reason) in p.RefusedSequences.Take(5))
                    breaches.Add($"{p.Name} #{sequence} refused ({reason}): queues are unlimited here, nothing should be refused");
            if (breaches.Count > 0)
            {
                Assert.Fail($"seed {seed}, durability {durability}: {breaches.Count} breach(es) of the delivery contract:\n" + string.Join("\n", breaches));
            }

            // The run proved something only if the kills hit live traffic and every client came back each time.
            Assert.True(publishedBy.Sum(p => p.InDoubtSequences.Length) >= 1, $"seed {seed}: no publish was cut by a kill");
            foreach (var p in publishedBy)
                Assert.True(p.Connections >= kills + 1, $"seed {seed}: {p.Name} connected {p.Connections} times for {kills + 1} incarnations");
            Assert.True(subscribers[0].Ledger.Connections >= kills + 1, $"seed {seed}: {subscribers[0].Ledger.ClientId} connected {subscribers[0].Ledger.Connections} times");
            Assert.True(subscribers[1].Ledger.Connections >= 2, $"seed {seed}: the lagging subscriber never reconnected");
            Say($"done in {clock.Elapsed.TotalSeconds:F1} s");
        }
        catch (Exception) when (PrintEvidence())
        {
            // Not reached: the filter prints the summary and the broker's output, then lets the failure through.
        }
        finally
        {
            foreach (var p in publishers) await p.DisposeAsync();
            foreach (var s in subscribers) await s.DisposeAsync();
        }
    }

    private void Say(string line) => output.WriteLine(line);
}
