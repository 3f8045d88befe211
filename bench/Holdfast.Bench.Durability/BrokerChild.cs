using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Holdfast.Bench;

/// <summary>`holdfast serve` as a child process on an ephemeral loopback port, so the broker has its own process (and
/// its own CPU accounting) apart from the load generator.</summary>
internal sealed partial class BrokerChild : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly string _configPath;

    private BrokerChild(Process process, string configPath)
    {
        _process = process;
        _configPath = configPath;
    }

    public int Port { get; private set; }
    public string Output { get { lock (_output) return _output.ToString(); } }
    public TimeSpan CpuTime { get { _process.Refresh(); return _process.TotalProcessorTime; } }

    public static BrokerChild Start(string configText, TimeSpan timeout)
    {
        string configPath = Path.Combine(Path.GetTempPath(), $"holdfast-bench-{Guid.NewGuid():N}.conf");
        File.WriteAllText(configPath, $"listener 1 127.0.0.1\nallow_anonymous true\nlog_dest stdout\nlog_type error\nlog_type warning\nlog_type notice\n{configText}\n");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "holdfast.dll"), "serve", "-c", configPath, "-p", "0" }) info.ArgumentList.Add(a);
        var process = Process.Start(info)!;
        var child = new BrokerChild(process, configPath);
        var running = new TaskCompletionSource();
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data, running);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data, running);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!running.Task.Wait(timeout)) { child.Dispose(); throw new TimeoutException($"broker did not start:\n{child.Output}"); }
        var match = ListenLine().Match(child.Output);
        child.Port = int.Parse(match.Groups[1].Value);
        return child;
    }

    private void OnLine(string? line, TaskCompletionSource running)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
        if (line.Contains("running")) running.TrySetResult();
    }

    [GeneratedRegex(@"listen socket on 127\.0\.0\.1:(\d+)")]
    private static partial Regex ListenLine();

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                // SIGTERM: a clean stop (the store flushes), then wait.
                Process.Start("kill", ["-TERM", _process.Id.ToString()])!.WaitForExit();
                if (!_process.WaitForExit(15_000)) _process.Kill(entireProcessTree: true);
            }
        }
        finally
        {
            _process.Dispose();
            File.Delete(_configPath);
        }
    }
}
