using System.Diagnostics;

namespace Holdfast.Cli.Bench;

/// <summary>The generator's and the broker's CPU time at one instant; two of them give the CPU used over an interval.</summary>
internal readonly record struct CpuSnapshot(long Ticks, TimeSpan Own, TimeSpan? Broker)
{
    public static CpuSnapshot Take(int? brokerPid) =>
        new(Stopwatch.GetTimestamp(), ProcessStats.OwnCpuTime(), brokerPid is { } pid ? ProcessStats.CpuTime(pid) : null);

    public static double Seconds(CpuSnapshot from, CpuSnapshot to) => (double)(to.Ticks - from.Ticks) / Stopwatch.Frequency;
}
