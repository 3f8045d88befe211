using System.Diagnostics;
using Holdfast.Client;

namespace Holdfast.Cli.Bench;

/// <summary>
/// Opens C idle clients (clean, keep-alive on) and holds them for the duration, to read what each costs the broker:
/// its resident memory with one client (the baseline) and with all of them, divided by the difference.
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
        var receiving = new Task?[settings.Connections];
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
                    receiving[i] = Task.Run(async () => { while (await client.ReceiveAsync() is not null) { } });
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or MqttConnectException or TimeoutException)
                {
                    Interlocked.Increment(ref failed);
                    Interlocked.CompareExchange(ref firstError, e.Message, null);
                }
            }

            await OpenAsync(0);
            if (clients[0] is null) throw new IOException($"cannot connect to {settings.Host}:{settings.Port}: {firstError}");
            // Give the broker a moment with its first client, then read the baseline.
            await Task.Delay(200);
            var baseline = settings.BrokerPid is { } pid ? ProcessStats.Memory(pid) : null;

            var cpuBefore = CpuSnapshot.Take(settings.BrokerPid);
            await MessageRun.ConnectAllAsync(settings.Connections - 1, i => OpenAsync(i + 1));
            double connectSeconds = CpuSnapshot.Seconds(cpuBefore, CpuSnapshot.Take(null));
            await MessageRun.DelayUntil(Stopwatch.GetTimestamp() + (long)(settings.Duration.TotalSeconds * Stopwatch.Frequency));
            var cpuAfter = CpuSnapshot.Take(settings.BrokerPid);
            var memory = settings.BrokerPid is { } pid2 ? ProcessStats.Memory(pid2) : null;

            int open = clients.Count(c => c is not null && !c.Closed.IsCancellationRequested);
            if (failed > 0) warnings.Add($"{failed} connections failed, the first with: {firstError}");
            if (open < settings.Connections - failed) warnings.Add($"{settings.Connections - failed - open} connections were closed while held");
            double seconds = CpuSnapshot.Seconds(cpuBefore, cpuAfter);
            double ownCpu = (cpuAfter.Own - cpuBefore.Own).TotalSeconds;
            double? brokerCpu = cpuAfter.Broker - cpuBefore.Broker is { } b ? b.TotalSeconds : null;
            if (settings.BrokerPid is not null && (baseline is null || memory is null)) warnings.Add($"broker process {settings.BrokerPid} ended during the run");

            var report = new BenchReport
            {
                Scenario = settings.Scenario,
                Description = $"{settings.Connections:N0} idle clients (clean, keep-alive {settings.KeepAlive} s) held for {settings.Duration.TotalSeconds:0.#} s",
                Broker = $"{settings.Host}:{settings.Port}",
                Version = settings.VersionName,
                DurationS = Math.Round(seconds, 3),
                ConnectionsRequested = settings.Connections,
                ConnectionsOpen = open,
                ConnectionsFailed = failed,
                ConnectsPerS = Math.Round((settings.Connections - 1 - failed) / connectSeconds, 1),
                BrokerRssBaselineKib = baseline?.RssKiB,
                KibPerConnection = baseline is { } before && memory is { } after && open > 1
                    ? Math.Round((double)(after.RssKiB - before.RssKiB) / (open - 1), 2) : null,
                GeneratorCpuS = Math.Round(ownCpu, 3),
                GeneratorCpuPercent = Math.Round(ownCpu / seconds * 100, 1),
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
