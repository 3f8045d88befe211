using System.Diagnostics;

namespace Holdfast.Tools.Bench;

/// <summary>The generator's and the broker's CPU time at one instant; two of them give the CPU used over an interval.</summary>
internal readonly record struct CpuSnapshot(long Ticks, TimeSpan Own, TimeSpan? Broker)
{
    /// <summary>Above this share of all cores for the generator and the broker together, the machine may be what bounds
    /// the run (the rest goes to the kernel's loopback work and everything else running), not the broker.</summary>
    public const double SaturatedPercent = 90;

    public static CpuSnapshot Take(int? brokerPid) =>
        new(Stopwatch.GetTimestamp(), ProcessStats.OwnCpuTime(), brokerPid is { } pid ? ProcessStats.CpuTime(pid) : null);

    public static double Seconds(CpuSnapshot from, CpuSnapshot to) => (double)(to.Ticks - from.Ticks) / Stopwatch.Frequency;

    /// <summary>CPU seconds over <paramref name="seconds"/> as a percentage of all the machine's cores.</summary>
    public static double PercentOfAllCores(double cpuSeconds, double seconds) => cpuSeconds / seconds / Environment.ProcessorCount * 100;

    /// <summary>A warning when the generator and the broker together used nearly every core, or null.</summary>
    public static string? SaturationWarning(double generatorCpuSeconds, double? brokerCpuSeconds, double seconds)
    {
        if (brokerCpuSeconds is not { } broker) return null;
        double percent = PercentOfAllCores(generatorCpuSeconds + broker, seconds);
        return percent < SaturatedPercent ? null
            : $"the generator and the broker together used {percent:0}% of all {Environment.ProcessorCount} cores: the machine, not the broker, may bound this run";
    }
}
