using System.Diagnostics;
using Holdfast.Interop.Tests.Infrastructure;
using static Holdfast.Interop.Tests.DebianPeers.Mosquitto;

namespace Holdfast.Interop.Tests.DebianPeers;

/// <summary>Keep-alive against a real libmosquitto client (its own class: it takes seconds, and classes run in parallel).</summary>
public sealed class MosquittoKeepAliveTests
{
    [SkippableFact]
    public async Task Silent_v5_client_is_dropped_within_one_and_a_half_server_keep_alives_and_its_will_published()
    {
        // mosquitto_sub will not ask for less than 5 s; max_keepalive 2 makes the broker impose 2 s through the
        // v5 Server Keep Alive property [MQTT-3.2.2-21], so the broker must act ~3 s after the client goes silent.
        await using var broker = await TestBroker.StartAsync("max_keepalive 2");
        string willTopic = Unique("ka") + "/will";
        string holderId = Unique("silent");
        await using var watcher = await SubscribeAsync(broker, "mqttv5", Unique("watch"), "-t", willTopic, "-q", "1", "-C", "1");
        await using var holder = await SubscribeAsync(broker, "mqttv5", holderId, "-t", Unique("idle") + "/x", "-k", "5",
            "--will-topic", willTopic, "--will-payload", "silent too long", "--will-qos", "1");
        Assert.Contains(broker.Log.Lines, l => l.Contains($" as {holderId} (p5, c1, k2)", StringComparison.Ordinal));

        // SIGSTOP: the connection stays open but nothing more is sent, not even PINGREQ.
        var silence = Stopwatch.StartNew();
        holder.Signal(19);
        var lines = await LinesAfterExitAsync(watcher);
        silence.Stop();

        Assert.Equal(["silent too long"], lines);
        Assert.Contains(broker.Log.Lines, l => l.Contains($"Client {holderId} has exceeded timeout", StringComparison.Ordinal));
        // Not before 1.5 × 2 s of silence (the SUBSCRIBE was its last packet, just before the stop), and close to it after.
        Assert.InRange(silence.Elapsed, TimeSpan.FromSeconds(2.5), TimeSpan.FromSeconds(6));
        holder.Signal(9);
    }
}
