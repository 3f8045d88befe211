namespace Holdfast.Testing;

/// <summary>Real peers from Debian's packages. In CI (CI=true) a missing tool fails the test; elsewhere it skips with the reason.</summary>
public static class DebianTool
{
    /// <summary>The path of <paramref name="tool"/>; when it is missing, the reason names the Debian packages to install.</summary>
    public static string Require(string tool, string packages = "mosquitto mosquitto-clients python3-paho-mqtt openssl")
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin").Append("/usr/sbin"))
        {
            var path = Path.Combine(dir, tool);
            if (File.Exists(path)) return path;
        }
        Unavailable($"{tool} is not installed (apt-get install -y {packages})");
        return "";
    }

    /// <summary>Something a test needs from the machine is missing: a failure in CI, a skip with the reason elsewhere.</summary>
    public static void Unavailable(string reason)
    {
        if (Environment.GetEnvironmentVariable("CI") == "true") throw new InvalidOperationException(reason);
        Skip.If(true, reason);
    }

    /// <summary>Debian's paho lives in the system Python, not the one first on PATH.</summary>
    public static string RequirePaho()
    {
        const string python = "/usr/bin/python3";
        bool ok = File.Exists(python) && ProcessRunner.Run(python, ["-c", "import paho.mqtt.client"], TimeSpan.FromSeconds(20)).ExitCode == 0;
        if (ok) return python;
        Unavailable("python3-paho-mqtt is not installed for /usr/bin/python3 (apt-get install -y python3-paho-mqtt)");
        return "";
    }
}
