using System.Diagnostics;
using Holdfast.Protocol;

namespace Holdfast.Bench;

/// <summary>
/// QoS 1 fan-in: P publishers, each keeping up to W publishes unacknowledged, to one persistent subscriber on a
/// wildcard. The subscriber's session is persistent, so every message is recorded before its PUBACK (with a clean
/// subscriber nothing would need to be durable and every level would measure the same). Measures PUBACKs per second
/// and publish-to-PUBACK latency, and checks every acknowledged message reached the subscriber.
/// </summary>
internal static class FanIn
{
    /// <param name="Acked">PUBACKs with a success code: the broker took responsibility for the message.</param>
    /// <param name="Refused">PUBACKs with an error code (0x97 when a queue is full): not acknowledged, not counted as sent.</param>
    public sealed record Result(double AckedPerSecond, double DeliveredPerSecond, double P50Ms, double P99Ms, long Acked, long Refused, long Received, double BrokerCpuSeconds);

    public static async Task<Result> RunAsync(int port, int publishers, int window, int payloadSize, TimeSpan duration, Func<TimeSpan> brokerCpu)
    {
        await using var subscriber = await BenchConnection.ConnectAsync(port, "bench-sub", sessionExpiry: 3600);
        subscriber.Write(new SubscribePacket
        {
            PacketId = 1,
            Subscriptions = [new TopicSubscription { TopicFilter = "bench/#", MaximumQoS = QualityOfService.AtLeastOnce }],
        });
        await subscriber.FlushAsync();
        await subscriber.ReadAsync(p => p is not SubAckPacket);

        long received = 0;
        var subscriberLoop = Task.Run(() => subscriber.ReadAsync(p =>
        {
            if (p is PublishPacket publish)
            {
                Interlocked.Increment(ref received);
                if (publish.QoS > 0) subscriber.Write(new PubAckPacket { PacketId = publish.PacketId });
            }
            return true;
        }, flushAfterBurst: true).ContinueWith(_ => { }));

        var cpuBefore = brokerCpu();
        var started = Stopwatch.GetTimestamp();
        var deadline = started + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var runs = Enumerable.Range(0, publishers).Select(i => Task.Run(() => PublishAsync(port, i, window, payloadSize, deadline))).ToArray();
        var results = await Task.WhenAll(runs);
        double elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        long receivedInRun = Interlocked.Read(ref received);
        var cpu = brokerCpu() - cpuBefore;

        long acked = results.Sum(r => r.Acked);
        // Every acknowledged message must reach the subscriber; give it time to drain.
        var drainUntil = Stopwatch.GetTimestamp() + 30 * Stopwatch.Frequency;
        while (Interlocked.Read(ref received) < acked && Stopwatch.GetTimestamp() < drainUntil) await Task.Delay(20);

        var latencies = results.SelectMany(r => r.Latencies).Order().ToArray();
        double Percentile(double p) => latencies.Length == 0 ? 0 : latencies[(int)Math.Min(latencies.Length - 1, p * latencies.Length)] * 1000.0 / Stopwatch.Frequency;
        return new Result(acked / elapsed, receivedInRun / elapsed, Percentile(0.50), Percentile(0.99), acked, results.Sum(r => r.Refused), Interlocked.Read(ref received), cpu.TotalSeconds);
    }

    private sealed record PublisherResult(long Acked, long Refused, List<long> Latencies);

    private static async Task<PublisherResult> PublishAsync(int port, int index, int window, int payloadSize, long deadline)
    {
        await using var connection = await BenchConnection.ConnectAsync(port, $"bench-pub-{index}", sessionExpiry: 0);
        var sentAt = new long[65536];
        var latencies = new List<long>(1 << 16);
        using var slots = new SemaphoreSlim(window);
        long acked = 0, refused = 0;
        bool backOff = false;
        var payload = new byte[payloadSize];
        string topic = $"bench/{index}";
        var reading = Task.Run(() => connection.ReadAsync(p =>
        {
            if (p is PubAckPacket ack)
            {
                if ((byte)ack.ReasonCode < 0x80)
                {
                    latencies.Add(Stopwatch.GetTimestamp() - sentAt[ack.PacketId]);
                    acked++;
                }
                else
                {
                    refused++;
                    Volatile.Write(ref backOff, true);
                }
                slots.Release();
            }
            return true;
        }));

        ushort packetId = 0;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (!await slots.WaitAsync(TimeSpan.FromSeconds(5))) throw new TimeoutException($"publisher {index}: no PUBACK for 5 s");
            // Refused (0x97, a queue is full): the broker asks publishers to slow down, as a real client would.
            if (Volatile.Read(ref backOff))
            {
                Volatile.Write(ref backOff, false);
                await Task.Delay(1);
            }
            do
            {
                packetId = (ushort)(packetId == 65535 ? 1 : packetId + 1);
                sentAt[packetId] = Stopwatch.GetTimestamp();
                connection.Write(new PublishPacket { Topic = topic, Payload = payload, QoS = QualityOfService.AtLeastOnce, PacketId = packetId });
            }
            while (slots.Wait(0));
            await connection.FlushAsync();
        }
        // Let the last window be acknowledged so that the count is exact.
        for (int i = 0; i < window; i++) await slots.WaitAsync(TimeSpan.FromSeconds(10));
        return new PublisherResult(Interlocked.Read(ref acked), Interlocked.Read(ref refused), latencies);
    }
}
