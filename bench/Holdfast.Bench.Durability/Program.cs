using System.Globalization;
using Holdfast.Bench;

// Durability benchmarks (issue 3): QoS 1 fan-in at each durability level, and recovery time of a large data directory.
//   dotnet run -c Release --project bench/Holdfast.Bench.Durability -- fanin [seconds] [rounds] [window]
//   dotnet run -c Release --project bench/Holdfast.Bench.Durability -- recovery [sessions] [messages per session] [crash]
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
string mode = args.Length > 0 ? args[0] : "fanin";
if (mode == "build-and-crash")
{
    // The child of `recovery ... crash`: leave the store as a killed process would (no close, no memtable flush).
    Recovery.Build(args[1], int.Parse(args[2]), int.Parse(args[3]), 64);
    Environment.Exit(0);
}
if (mode == "recovery")
{
    int sessions = args.Length > 1 ? int.Parse(args[1]) : 1000;
    int perSession = args.Length > 2 ? int.Parse(args[2]) : 1000;
    bool afterCrash = args.Length > 3 && args[3] == "crash";
    string location = Directory.CreateTempSubdirectory("holdfast-recovery-").FullName;
    try
    {
        var r = Recovery.Run(location, sessions, perSession, 64, afterCrash);
        Console.WriteLine(afterCrash ? "data directory left as by a kill (write-ahead log not flushed)" : "data directory closed cleanly");
        Console.WriteLine($"built {sessions:N0} sessions x {perSession:N0} queued messages in {r.Build.TotalSeconds:0.0} s");
        Console.WriteLine($"recovery (broker's own figure): {r.RecoverySeconds:0.00} s; process start to listening: {r.ToRunning.TotalSeconds:0.00} s");
        Console.WriteLine(r.Line);
    }
    finally
    {
        Directory.Delete(location, recursive: true);
    }
    return;
}

int seconds = args.Length > 1 ? int.Parse(args[1]) : 10;
int rounds = args.Length > 2 ? int.Parse(args[2]) : 3;
// Unacknowledged publishes per publisher; the default is the Receive Maximum Holdfast grants MQTT 5 clients.
int Window = args.Length > 3 ? int.Parse(args[3]) : 100;
const int Publishers = 8, Payload = 64;
// Mosquitto's default max_inflight_messages (20) makes one subscriber's round trips the bound, whatever the store does.
const string BrokerSettings = "max_inflight_messages 1000\nmax_queued_messages 10000";
(string Name, string Config)[] levels =
[
    ("persistence false", "persistence false"),
    ("durability memory", "durability memory"),
    ("durability os", "durability os"),
    ("durability sync", "durability sync"),
];
var results = levels.ToDictionary(l => l.Name, _ => new List<FanIn.Result>());
Console.WriteLine($"QoS 1 fan-in: {Publishers} publishers (window {Window}) -> 1 persistent subscriber on bench/#, {Payload}-byte payload, {seconds} s per run, {rounds} interleaved rounds");
Console.WriteLine($"broker: {BrokerSettings.Replace("\n", ", ")}");
for (int round = 0; round < rounds; round++)
{
    // Rotate the order each round so that no level always runs first (or last) on a noisy machine.
    for (int k = 0; k < levels.Length; k++)
    {
        var (name, config) = levels[(k + round) % levels.Length];
        string location = Directory.CreateTempSubdirectory("holdfast-bench-").FullName;
        try
        {
            var broker = BrokerChild.Start($"persistence_location {location}\n{BrokerSettings}\n{config}", TimeSpan.FromSeconds(30));
            FanIn.Result r;
            try
            {
                r = await FanIn.RunAsync(broker.Port, Publishers, Window, Payload, TimeSpan.FromSeconds(seconds), () => broker.CpuTime);
            }
            finally
            {
                broker.Dispose();
            }
            results[name].Add(r);
            Console.WriteLine($"  round {round + 1} {name,-18} {r.AckedPerSecond,9:N0} acked/s {r.DeliveredPerSecond,9:N0} delivered/s  p50 {r.P50Ms,6:0.00} ms  p99 {r.P99Ms,6:0.00} ms  acked {r.Acked:N0} refused {r.Refused:N0} received {r.Received:N0}  broker CPU {r.BrokerCpuSeconds:0.0} s");
            if (broker.Output.Split('\n').FirstOrDefault(l => l.Contains("Store: ")) is { } storeLine) Console.WriteLine($"      {storeLine.Trim()}");
        }
        finally
        {
            Directory.Delete(location, recursive: true);
        }
    }
}

double Median(IEnumerable<double> xs) { var a = xs.Order().ToArray(); return a[a.Length / 2]; }
double baseline = Median(results["durability memory"].Select(r => r.AckedPerSecond));
Console.WriteLine();
Console.WriteLine("| level | acked msg/s (median) | vs memory | publish→PUBACK p50 | p99 | broker CPU s per 1M msgs | lost |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
foreach (var (name, _) in levels)
{
    var rs = results[name];
    double rate = Median(rs.Select(r => r.AckedPerSecond));
    double cpuPerMillion = Median(rs.Select(r => r.BrokerCpuSeconds / r.Acked * 1_000_000));
    long lost = rs.Sum(r => Math.Max(0, r.Acked - r.Received));
    Console.WriteLine($"| {name} | {rate:N0} | {rate / baseline:P0} | {Median(rs.Select(r => r.P50Ms)):0.00} ms | {Median(rs.Select(r => r.P99Ms)):0.00} ms | {cpuPerMillion:0.0} | {lost} |");
}
