using System.Globalization;

namespace Holdfast.Broker;

/// <summary>Times and sizes as log lines show them to an operator.</summary>
internal static class Durations
{
    /// <summary>"850 ms", "42 s", "3 min 12 s", "5 h 3 min", "2 d 4 h".</summary>
    public static string Describe(long milliseconds)
    {
        if (milliseconds < 1000) return $"{Math.Max(0, milliseconds)} ms";
        long s = milliseconds / 1000;
        if (s < 60) return $"{s} s";
        if (s < 3600) return $"{s / 60} min {s % 60} s";
        if (s < 86400) return $"{s / 3600} h {s % 3600 / 60} min";
        return $"{s / 86400} d {s % 86400 / 3600} h";
    }

    /// <summary>"512 B", "64.0 KiB", "1.2 MiB", "3.0 GiB".</summary>
    public static string Bytes(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KiB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.0} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024):0.0} GiB"),
    };
}
