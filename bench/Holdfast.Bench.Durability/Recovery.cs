using System.Diagnostics;
using System.Text.RegularExpressions;
using Holdfast.Broker;
using Holdfast.Broker.Storage;
using Holdfast.Protocol;
using Holdfast.Storage.RocksDb;

namespace Holdfast.Bench;

/// <summary>Builds a data directory holding S offline sessions with M queued messages each (every message its own body),
/// then measures how long `holdfast serve` takes to recover it.</summary>
internal static partial class Recovery
{
    public sealed record Result(TimeSpan Build, double RecoverySeconds, TimeSpan ToRunning, string Line);

    public static Result Run(string location, int sessions, int messagesPerSession, int payloadSize, bool afterCrash)
    {
        var build = Stopwatch.StartNew();
        if (afterCrash)
        {
            // Built by a child process that exits without closing the store, as a killed broker leaves it: the newest
            // changes are only in the write-ahead log, which the broker must replay.
            var child = Process.Start("dotnet", [typeof(Recovery).Assembly.Location, "build-and-crash", location, sessions.ToString(), messagesPerSession.ToString()]);
            child.WaitForExit();
            if (child.ExitCode != 0) throw new InvalidOperationException($"building the data directory failed ({child.ExitCode})");
        }
        else
        {
            Build(location, sessions, messagesPerSession, payloadSize).Dispose();
        }
        build.Stop();

        var started = Stopwatch.StartNew();
        using var broker = BrokerChild.Start($"persistence_location {location}", TimeSpan.FromMinutes(5));
        var toRunning = started.Elapsed;
        var match = RecoveredLine().Match(broker.Output);
        if (!match.Success) throw new InvalidOperationException($"no recovery line in:\n{broker.Output}");
        return new Result(build.Elapsed, double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), toRunning, match.Value);
    }

    /// <summary>Writes the sessions and queues; every change is written (Flush) when it returns, the store still open.</summary>
    public static RocksDbStore Build(string location, int sessions, int messagesPerSession, int payloadSize)
    {
        var store = RocksDbStore.Open(Path.Combine(location, "holdfast.db"), Durability.Memory);
        var payload = new byte[payloadSize];
        var subscription = new Subscription("bench/#", QualityOfService.AtLeastOnce, false, false, RetainHandling.SendAtSubscribe, null);
        long now = Environment.TickCount64;
        for (int s = 0; s < sessions; s++)
        {
            string clientId = $"bench-sub-{s}";
            var changes = store.BeginChanges();
            changes.SaveSession(new StoredSession(clientId, ProtocolVersion.V500, 86_400, [subscription], now), expectedEpoch: 0);
            for (int m = 0; m < messagesPerSession; m++)
            {
                var message = new Message($"bench/{m}", payload, QualityOfService.AtLeastOnce, false, null, "bench-pub", now);
                changes.Reference(message);
                changes.AddQueued(clientId, m + 1, new StoredDelivery(message, QualityOfService.AtLeastOnce, false, null));
            }
            changes.Commit();
            // Keep the writer's backlog bounded.
            if (s % 50 == 49) store.Flush();
        }
        store.Flush();
        return store;
    }

    [GeneratedRegex(@"Recovered .* in ([0-9.]+) s")]
    private static partial Regex RecoveredLine();
}
