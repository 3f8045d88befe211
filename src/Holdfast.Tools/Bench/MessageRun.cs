using System.Diagnostics;
using Holdfast.Client;
using Holdfast.Protocol;

namespace Holdfast.Tools.Bench;

/// <summary>
/// Runs fan-in, fan-out or pairs: connects the subscribers (subscribed before anything is published), then the
/// publishers; lets them run for the warm-up and the measured interval; stops the publishers, waits for everything they
/// sent to be acknowledged and delivered (or to stop arriving), and counts what was lost or duplicated.
/// A client whose connection ends before all that is done fails the run (an IOException naming it).
/// </summary>
internal static class MessageRun
{
    /// <summary>How long deliveries may stop before the run stops waiting for the rest: long enough that a machine busy
    /// with other work (a test suite beside the run) does not turn late messages into lost ones. A run that lost nothing
    /// never waits for it.</summary>
    private static readonly TimeSpan DrainQuiet = TimeSpan.FromSeconds(5);

    public static async Task<BenchReport> RunAsync(BenchSettings settings, Func<string, MqttClientOptions> optionsFor)
    {
        string run = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 3));
        var topology = Topology.For(settings, run);
        var subscribers = new BenchSubscriber[topology.SubscriberFilters.Length];
        var publishers = new BenchPublisher[topology.Publishers];
        double ratePerPublisher = settings.Rate / topology.Publishers;
        var failure = new RunFailure();
        Pacer? pacer = null;
        try
        {
            MqttClientOptions SubscriberOptions(int i)
            {
                var options = optionsFor($"hb-{run}-s{i}");
                options.SessionExpiryInterval = settings.SessionExpiry;
                return options;
            }
            await ConnectAllAsync(subscribers.Length, async i => subscribers[i] = await BenchSubscriber.ConnectAsync(
                SubscriberOptions(i), i, topology.SubscriberFilters[i], settings.QoS, topology.Publishers, failure));
            await ConnectAllAsync(publishers.Length, async i => publishers[i] = await BenchPublisher.ConnectAsync(
                optionsFor($"hb-{run}-p{i}"), i, Topology.TopicOf(run, i), settings, ratePerPublisher, failure));
            foreach (var subscriber in subscribers)
                foreach (int p in topology.PublishersOf(subscriber.Index))
                {
                    var stream = new DeliveryStream(publishers[p]);
                    publishers[p].AddStream(stream);
                    subscriber.Expect(stream);
                }

            CpuSnapshot.Take(settings.BrokerPid);   // the first /proc read asks getconf for its unit: not inside the interval
            long start = Stopwatch.GetTimestamp();
            long measureFrom = start + (long)(settings.Warmup.TotalSeconds * Stopwatch.Frequency);
            long measureTo = measureFrom + (long)(settings.Duration.TotalSeconds * Stopwatch.Frequency);
            foreach (var subscriber in subscribers) subscriber.Start(measureFrom, measureTo);
            if (settings.Rate > 0) pacer = new Pacer(publishers);
            var publishing = publishers.Select(p => Task.Run(() => p.RunAsync(start))).ToArray();

            await failure.WhileRunning(DelayUntil(measureFrom));
            var before = Counts.Take(publishers, subscribers);
            var cpuBefore = CpuSnapshot.Take(settings.BrokerPid);
            await failure.WhileRunning(DelayUntil(measureTo));
            // The publishers stop only now, so that they publish for the whole of the interval the counts span (Task.Delay
            // wakes a little after measureTo, and that little was missing from published/s).
            var after = Counts.Take(publishers, subscribers);
            var cpuAfter = CpuSnapshot.Take(settings.BrokerPid);
            foreach (var publisher in publishers) publisher.Stop();

            await failure.WhileRunning(Task.WhenAll(publishing));
            await failure.WhileRunning(DrainAsync(publishers, settings.QoS));
            var memory = settings.BrokerPid is { } pid ? ProcessStats.Memory(pid) : null;
            var report = Report(settings, topology, publishers, subscribers, before, after, cpuBefore, cpuAfter, memory);

            foreach (var publisher in publishers) await publisher.DisconnectAsync();
            foreach (var subscriber in subscribers) await subscriber.DisconnectAsync();
            return report;
        }
        finally
        {
            pacer?.Dispose();
            foreach (var publisher in publishers) publisher?.Abort();
            foreach (var subscriber in subscribers) subscriber?.Abort();
        }
    }

    /// <summary>Connects <paramref name="count"/> clients, a few dozen at a time (a burst of thousands would overflow the
    /// broker's listen backlog, and a dropped SYN costs a second).</summary>
    public static Task ConnectAllAsync(int count, Func<int, Task> connect) =>
        Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) => await connect(i));

    public static async Task DelayUntil(long ticks)
    {
        long left = ticks - Stopwatch.GetTimestamp();
        if (left > 0) await Task.Delay(TimeSpan.FromSeconds((double)left / Stopwatch.Frequency));
    }

    /// <summary>Waits until every subscriber has every message it should get, or deliveries have stopped for a while.</summary>
    private static async Task DrainAsync(BenchPublisher[] publishers, QualityOfService qos)
    {
        long expected = publishers.Sum(p => (qos == QualityOfService.AtMostOnce ? p.Sent : p.Acked) * p.Streams.Count);
        long delivered = -1;
        var quietSince = Stopwatch.GetTimestamp();
        while (true)
        {
            long now = publishers.Sum(p => p.Streams.Sum(s => s.Distinct));
            if (now >= expected) return;
            if (now != delivered) { delivered = now; quietSince = Stopwatch.GetTimestamp(); }
            else if (Stopwatch.GetElapsedTime(quietSince) > DrainQuiet) return;
            await Task.Delay(10);
        }
    }

    /// <summary>The counts at one instant, with the time they were taken (the measured interval is between two of them).
    /// Published leaves out what the broker refused.</summary>
    private readonly record struct Counts(long Ticks, long Published, long Acked, long Delivered)
    {
        public static Counts Take(BenchPublisher[] publishers, BenchSubscriber[] subscribers) => new(Stopwatch.GetTimestamp(),
            publishers.Sum(p => p.Sent - p.RefusedCount), publishers.Sum(p => p.Acked), subscribers.Sum(s => s.Streams.Sum(d => d.Distinct)));
    }

    private static BenchReport Report(BenchSettings settings, Topology topology, BenchPublisher[] publishers, BenchSubscriber[] subscribers,
        Counts before, Counts after, CpuSnapshot cpuBefore, CpuSnapshot cpuAfter, (long RssKiB, long PeakRssKiB)? memory)
    {
        double seconds = (double)(after.Ticks - before.Ticks) / Stopwatch.Frequency;
        var latency = new LatencyHistogram();
        foreach (var subscriber in subscribers) latency.Add(subscriber.Latency);
        double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

        long missing = 0, duplicates = 0;
        foreach (var publisher in publishers)
        {
            var pending = publisher.PendingSequences();
            foreach (var stream in publisher.Streams)
            {
                duplicates += stream.Duplicates;
                for (long sequence = 0; sequence < publisher.Sent; sequence++)
                    if (!stream.Contains(sequence) && !pending.Contains(sequence) && !publisher.WasRefused(sequence)) missing++;
            }
        }
        bool reliable = settings.QoS != QualityOfService.AtMostOnce;
        var warnings = new List<string>();
        long unexpected = subscribers.Sum(s => s.Unexpected);
        if (unexpected > 0) warnings.Add($"{unexpected} messages arrived that no publisher of this run sent to that subscriber");
        if (latency.Count == 0) warnings.Add("no message sent in the measured interval was received in it");
        double? brokerCpu = cpuAfter.Broker - cpuBefore.Broker is { } b ? b.TotalSeconds : null;
        if (settings.BrokerPid is not null && (brokerCpu is null || memory is null)) warnings.Add($"broker process {settings.BrokerPid} ended during the run");
        double ownCpu = (cpuAfter.Own - cpuBefore.Own).TotalSeconds;
        long stalls = publishers.Sum(p => (long)p.Stalls);
        if (stalls > 0)
            warnings.Add($"{stalls} times a publisher's window was full and nothing was delivered for 2 s: it stopped waiting for those messages, so throughput and latency do not show that wait");
        long unknownAcks = publishers.Sum(p => p.UnknownAcknowledgements);
        if (unknownAcks > 0) warnings.Add($"{unknownAcks} acknowledgements came for packet ids that were not in flight");
        if (CpuSnapshot.SaturationWarning(ownCpu, brokerCpu, seconds) is { } saturated) warnings.Add(saturated);

        return new BenchReport
        {
            Scenario = settings.Scenario,
            Description = settings.SessionExpiry > 0 ? $"{topology.Description}, subscribers' sessions persistent (expiry {settings.SessionExpiry} s)" : topology.Description,
            Broker = $"{settings.Host}:{settings.Port}",
            Version = ProtocolVersionName.Of(settings.Version),
            Qos = (int)settings.QoS,
            PayloadBytes = settings.PayloadSize,
            Publishers = publishers.Length,
            Subscribers = subscribers.Length,
            Window = settings.Window,
            AckWindow = reliable ? publishers.Min(p => p.AckWindow) : null,
            RateLimit = settings.Rate,
            WarmupS = settings.Warmup.TotalSeconds,
            DurationS = Math.Round(seconds, 3),
            Published = after.Published - before.Published,
            PublishedPerS = Math.Round((after.Published - before.Published) / seconds, 1),
            AckedPerS = reliable ? Math.Round((after.Acked - before.Acked) / seconds, 1) : null,
            Delivered = after.Delivered - before.Delivered,
            DeliveredPerS = Math.Round((after.Delivered - before.Delivered) / seconds, 1),
            LatencySamples = latency.Count,
            LatencyFrom = settings.Rate > 0 ? "scheduled send time (--rate)" : "send time",
            LatencyP50Ms = Math.Round(Ms(latency.ValueAt(0.50)), 4),
            LatencyP99Ms = Math.Round(Ms(latency.ValueAt(0.99)), 4),
            LatencyMaxMs = Math.Round(Ms(latency.Max), 4),
            Lost = reliable ? missing : null,
            Duplicates = duplicates,
            Refused = reliable ? publishers.Sum(p => (long)p.RefusedCount) : null,
            Unacknowledged = reliable ? publishers.Sum(p => p.Unacknowledged) : null,
            DroppedQos0 = reliable ? null : missing,
            Stalls = stalls,
            GeneratorCpuS = Math.Round(ownCpu, 3),
            GeneratorCpuPercent = Math.Round(ownCpu / seconds * 100, 1),
            GeneratorCpuPercentOfAllCores = Math.Round(CpuSnapshot.PercentOfAllCores(ownCpu, seconds), 1),
            BrokerPid = settings.BrokerPid,
            BrokerCpuS = brokerCpu is { } cpu ? Math.Round(cpu, 3) : null,
            BrokerCpuPercent = brokerCpu is { } cpu2 ? Math.Round(cpu2 / seconds * 100, 1) : null,
            BrokerRssKib = memory?.RssKiB,
            BrokerPeakRssKib = memory?.PeakRssKiB,
            Warnings = warnings,
        };
    }
}
