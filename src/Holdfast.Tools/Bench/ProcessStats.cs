using System.Diagnostics;
using System.Globalization;

namespace Holdfast.Tools.Bench;

/// <summary>CPU time and memory of a process from Linux's /proc, for the broker under test (another process, possibly
/// not .NET, so not through System.Diagnostics.Process), and this process's own CPU time.</summary>
internal static class ProcessStats
{
    private static readonly Lazy<long> ClockTicksPerSecond = new(ReadClockTicks);

    /// <summary>User + system CPU time of process <paramref name="pid"/> so far (all its threads), or null if it is gone.</summary>
    public static TimeSpan? CpuTime(int pid)
    {
        string stat;
        try { stat = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
        // After it come state (field 3) ... utime (14) and stime (15), in clock ticks.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        long ticks = long.Parse(fields[14 - 3], CultureInfo.InvariantCulture) + long.Parse(fields[15 - 3], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds((double)ticks / ClockTicksPerSecond.Value);
    }

    /// <summary>Resident set size now (VmRSS) and its peak since the process started (VmHWM), in KiB; null if it is gone.</summary>
    public static (long RssKiB, long PeakRssKiB)? Memory(int pid)
    {
        string[] lines;
        try { lines = File.ReadAllLines($"/proc/{pid}/status"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        return (Field(lines, "VmRSS:"), Field(lines, "VmHWM:"));
    }

    public static bool Exists(int pid) => File.Exists($"/proc/{pid}/stat");

    public static TimeSpan OwnCpuTime()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    private static long Field(string[] lines, string name)
    {
        foreach (var line in lines)
            if (line.StartsWith(name, StringComparison.Ordinal))
                return long.Parse(line[name.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        return 0;
    }

    /// <summary>USER_HZ, the unit of /proc/PID/stat's times: 100 on every Linux we know of, but asked rather than assumed.</summary>
    private static long ReadClockTicks()
    {
        try
        {
            var info = new ProcessStartInfo("getconf", "CLK_TCK") { RedirectStandardOutput = true, UseShellExecute = false };
            using var getconf = Process.Start(info)!;
            string output = getconf.StandardOutput.ReadToEnd();
            getconf.WaitForExit();
            if (long.TryParse(output.Trim(), CultureInfo.InvariantCulture, out long ticks) && ticks > 0) return ticks;
        }
        catch (System.ComponentModel.Win32Exception) { }
        return 100;
    }
}
