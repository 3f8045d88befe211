using System.Text.RegularExpressions;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Protocol;

namespace Holdfast.Interop.Tests.Durability;

/// <summary>A <c>persistence_location</c> that outlives the broker processes of one restart test, deleted when the
/// test ends. Declare it before the brokers (<c>using var location = ...</c> first), so that it is removed after them.</summary>
public sealed class RestartLocation : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("holdfast-restart-").FullName;

    /// <summary>The store's directory under the location, as the broker names it in its log and errors.</summary>
    public string DataDirectory => System.IO.Path.Combine(Path, "holdfast.db");

    /// <summary>`holdfast serve` on this location (a new ephemeral port each time).</summary>
    public Task<BrokerProcess> StartAsync(string configText = "", string[]? extraArgs = null) =>
        BrokerProcess.StartHoldfastAsync(configText, extraArgs, Path);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Kill and recovery steps shared by the restart tests.</summary>
public static partial class Restart
{
    /// <summary>SIGKILL (<see cref="BrokerProcess.Kill"/>), then waits until the process is gone, so that the next broker
    /// finds the data directory unlocked and nothing more can be written to it.</summary>
    public static async Task KillAsync(this BrokerProcess broker)
    {
        broker.Kill();
        Assert.True(await broker.Runner.WaitForExitAsync(Waits.Event), "the killed broker did not exit");
    }

    /// <summary>
    /// Returns once everything the broker recorded before this call is on disk, for state that no acknowledgement covers
    /// (a session going offline, a pending will or its cancellation, removals after a subscriber's acks). A PUBACK for a
    /// publish that changed stored state leaves only once the store is durable up to that change, and the store writes
    /// its changes in order: so the PUBACK for setting a retained message proves every earlier change durable too (the
    /// broker handled the earlier change, whose log line the test waited for, under the same lock before this publish).
    /// The probe then clears its retained message and waits for that PUBACK as well, so it leaves nothing in the store;
    /// its session is clean (not stored), and its topic matches no test's subscription.
    /// </summary>
    public static async Task SettleAsync(this BrokerProcess broker)
    {
        string id = $"settle-{Guid.NewGuid():N}";
        var (probe, _) = await RawMqttClient.ConnectAsync(broker.Port, RawMqttClient.Connect(ProtocolVersion.V500, id, persistent: false));
        await using (probe)
        {
            ushort packetId = 0;
            foreach (string payload in new[] { "settle", "" })
            {
                await probe.SendAsync(new PublishPacket
                {
                    Topic = $"holdfast-test/{id}",
                    QoS = QualityOfService.AtLeastOnce,
                    Retain = true,
                    PacketId = ++packetId,
                    Payload = System.Text.Encoding.UTF8.GetBytes(payload),
                });
                var puback = await probe.ReceiveAsync<PubAckPacket>();
                Assert.Equal(packetId, puback.PacketId);
            }
            await probe.SendAsync(new DisconnectPacket());
        }
    }

    /// <summary>The recovery line of a broker's log (throws if there is none).</summary>
    public static RecoveryLine Recovery(this BrokerProcess broker)
    {
        var match = RecoveryPattern().Match(broker.Runner.Stdout);
        Assert.True(match.Success, $"no recovery line in the log:\n{broker.Runner.Stdout}");
        int At(int group) => int.Parse(match.Groups[group].Value);
        return new RecoveryLine(match.Value, At(1), At(2), At(3), At(4), At(5), At(6),
            double.Parse(match.Groups[7].Value, System.Globalization.CultureInfo.InvariantCulture),
            match.Groups[8].Success ? int.Parse(match.Groups[8].Value) : 0,
            match.Groups[9].Success ? int.Parse(match.Groups[9].Value) : 0);
    }

    [GeneratedRegex(@"Recovered (\d+) session\(s\), (\d+) queued and (\d+) inflight message\(s\), (\d+) QoS 2 flow\(s\) awaiting PUBREL, "
        + @"(\d+) delayed will\(s\) and (\d+) retained message\(s\) in (\d+(?:\.\d+)?) s(?:; purged (\d+) expired session\(s\) and (\d+) expired message\(s\))?\.")]
    private static partial Regex RecoveryPattern();
}

/// <summary>What the broker's "Recovered ..." line says.</summary>
public sealed record RecoveryLine(string Text, int Sessions, int Queued, int Inflight, int InboundQoS2, int DelayedWills, int Retained,
    double Seconds, int PurgedSessions, int PurgedMessages)
{
    public override string ToString() => Text;
}
