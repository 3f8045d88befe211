using System.Diagnostics;
using Holdfast.Client;
using Holdfast.Protocol;

namespace Holdfast.Tools.Bench;

/// <summary>
/// Opens C idle clients (clean, keep-alive on) and holds them for the duration, to read what each costs the broker: the
/// slope of its resident memory between a warm-up batch of k clients (the baseline) and all C, (RSS_C - RSS_k) / (C - k).
/// The baseline is taken with a batch rather than one client so that one-off costs (JIT, thread pool, heap growth) are
/// paid before it and not spread over the connections.
/// Each client keeps a receive pending (for PINGRESP) on a small buffer, so ten thousand of them stay cheap here.
/// </summary>
internal static class ConnectionsRun
{
    private const int ReceiveBufferSize = 2048;

    public static async Task<BenchReport> RunAsync(BenchSettings settings, Func<string, MqttClientOptions> optionsFor)
    {
        string run = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 3));
        var warnings = new List<string>();
        if (OpenFileLimit() is { } limit && settings.Connections + 64 > limit)
            warnings.Add($"{settings.Connections:N0} connections need more file descriptors than this process may open ({limit:N0}); raise it with ulimit -n");

        var clients = new MqttClientConnection?[settings.Connections];
        int batch = BaselineConnections(settings.Connections);
        int failed = 0;
        string? firstError = null;
        try
        {
            async Task OpenAsync(int i)
            {
                try
                {
                    var options = optionsFor($"hb-{run}-c{i}");
                    options.ReceiveBufferSize = ReceiveBufferSize;
                    var client = await MqttClientConnection.ConnectAsync(options);
                    clients[i] = client;
                    // Nothing to look at: PINGRESP is handled inside, and a closed connection is counted at the end.
                    _ = Task.Run(async () => { while (await client.ReceiveAsync() is not null) { } });
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or MqttConnectException or TimeoutException)
                {
                    Interlocked.Increment(ref failed);
                    Interlocked.CompareExchange(ref firstError, e.Message, null);
                }
            }

            await OpenAsync(0);
            if (clients[0] is null) throw new IOException($"cannot connect to {settings.Host}:{settings.Port}: {firstError}");
            await MessageRun.ConnectAllAsync(batch - 1, i => OpenAsync(i + 1));
            // Give the broker a moment with the batch (a client's last bytes may still be settling), then read the baseline.
            await Task.Delay(200);
            var baseline = settings.BrokerPid is { } pid ? ProcessStats.Memory(pid) : null;
            int baselineOpen = OpenCount(clients);

            var cpuBefore = CpuSnapshot.Take(settings.BrokerPid);
            int failedBefore = failed;
            await MessageRun.ConnectAllAsync(settings.Connections - batch, i => OpenAsync(i + batch));
            double connectSeconds = (double)(Stopwatch.GetTimestamp() - cpuBefore.Ticks) / Stopwatch.Frequency;
            int connected = settings.Connections - batch - (failed - failedBefore);
            await MessageRun.DelayUntil(Stopwatch.GetTimestamp() + (long)(settings.Duration.TotalSeconds * Stopwatch.Frequency));
            var cpuAfter = CpuSnapshot.Take(settings.BrokerPid);
            var memory = settings.BrokerPid is { } pid2 ? ProcessStats.Memory(pid2) : null;

            int open = OpenCount(clients);
            if (failed > 0) warnings.Add($"{failed} connections failed, the first with: {firstError}");
            if (open < settings.Connections - failed) warnings.Add($"{settings.Connections - failed - open} connections were closed while held");
            double seconds = CpuSnapshot.Seconds(cpuBefore, cpuAfter);
            double ownCpu = (cpuAfter.Own - cpuBefore.Own).TotalSeconds;
            double? brokerCpu = cpuAfter.Broker - cpuBefore.Broker is { } b ? b.TotalSeconds : null;
            if (settings.BrokerPid is not null && (baseline is null || memory is null)) warnings.Add($"broker process {settings.BrokerPid} ended during the run");
            double? kibPerConnection = null;
            if (baseline is { } before && memory is { } after && open > baselineOpen)
            {
                kibPerConnection = Math.Round((double)(after.RssKiB - before.RssKiB) / (open - baselineOpen), 2);
                if (after.RssKiB <= before.RssKiB)
                    warnings.Add($"the broker's RSS did not grow from {baselineOpen:N0} to {open:N0} connections ({before.RssKiB:N0} -> {after.RssKiB:N0} KiB): memory it had freed was reused, so KiB per connection means nothing here");
                // Peak well above current at the baseline: the broker had used (and given back) memory before this run.
                if (before.PeakRssKiB > before.RssKiB * 5 / 4)
                    warnings.Add($"at the baseline the broker's peak RSS ({before.PeakRssKiB:N0} KiB) was well above its RSS ({before.RssKiB:N0} KiB): a broker used before this run may reuse freed memory; start a fresh one");
            }
            if (CpuSnapshot.SaturationWarning(ownCpu, brokerCpu, seconds) is { } saturated) warnings.Add(saturated);

            var report = new BenchReport
            {
                Scenario = settings.Scenario,
                Description = $"{settings.Connections:N0} idle clients (clean, keep-alive {settings.KeepAlive} s) held for {settings.Duration.TotalSeconds:0.#} s",
                Broker = $"{settings.Host}:{settings.Port}",
                Version = ProtocolVersionName.Of(settings.Version),
                DurationS = Math.Round(seconds, 3),
                ConnectionsRequested = settings.Connections,
                ConnectionsOpen = open,
                ConnectionsFailed = failed,
                ConnectsPerS = Math.Round(connected / connectSeconds, 1),
                BaselineConnections = baselineOpen,
                BrokerRssBaselineKib = baseline?.RssKiB,
                KibPerConnection = kibPerConnection,
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
            await Parallel.ForEachAsync(clients.OfType<MqttClientConnection>(), new ParallelOptions { MaxDegreeOfParallelism = 64 },
                async (client, _) => await client.DisconnectAsync());
            return report;
        }
        finally
        {
            foreach (var client in clients) client?.Abort();
        }
    }

    /// <summary>The warm-up batch for C connections: max(100, 1% of C), and never more than half of them.</summary>
    public static int BaselineConnections(int connections) => Math.Max(1, Math.Min(Math.Max(100, connections / 100), connections / 2));

    private static int OpenCount(MqttClientConnection?[] clients) => clients.Count(c => c is not null && !c.Closed.IsCancellationRequested);

    /// <summary>The soft limit on open files, from /proc/self/limits (.NET raises it to the hard limit at startup).</summary>
    private static long? OpenFileLimit()
    {
        try
        {
            var line = File.ReadLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
            var fields = line?["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields is { Length: > 0 } && long.TryParse(fields[0], out long soft) ? soft : null;
        }
        catch (IOException) { return null; }
    }
}
