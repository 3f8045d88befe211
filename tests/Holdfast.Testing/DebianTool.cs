namespace Holdfast.Testing;

/// <summary>Real peers from Debian's packages. In CI (CI=true) a missing tool fails the test; elsewhere it skips with the reason.</summary>
public static class DebianTool
{
    public static string Require(string tool)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin"))
        {
            var path = Path.Combine(dir, tool);
            if (File.Exists(path)) return path;
        }
        string reason = $"{tool} is not installed (apt-get install -y mosquitto mosquitto-clients python3-paho-mqtt openssl)";
        if (Environment.GetEnvironmentVariable("CI") == "true") throw new InvalidOperationException(reason);
        Skip.If(true, reason);
        return "";
    }

    /// <summary>Debian's paho lives in the system Python, not the one first on PATH.</summary>
    public static string RequirePaho()
    {
        const string python = "/usr/bin/python3";
        bool ok = File.Exists(python) && ProcessRunner.Run(python, ["-c", "import paho.mqtt.client"], TimeSpan.FromSeconds(20)).ExitCode == 0;
        if (ok) return python;
        string reason = "python3-paho-mqtt is not installed for /usr/bin/python3 (apt-get install -y python3-paho-mqtt)";
        if (Environment.GetEnvironmentVariable("CI") == "true") throw new InvalidOperationException(reason);
        Skip.If(true, reason);
        return "";
    }
}
