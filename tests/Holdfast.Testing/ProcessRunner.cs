using System.Diagnostics;
using System.Text;

namespace Holdfast.Testing;

/// <summary>Runs peer tools (mosquitto_pub, python3) and background processes that the test stops by id.</summary>
public sealed class ProcessRunner : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly SemaphoreSlim _outputChanged = new(0);

    private ProcessRunner(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (_stdout) _stdout.AppendLine(e.Data); _outputChanged.Release(); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (_stderr) _stderr.AppendLine(e.Data); _outputChanged.Release(); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;
    public string Stdout { get { lock (_stdout) return _stdout.ToString(); } }
    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public static ProcessRunner Start(string file, IEnumerable<string> args, string? stdin = null, string? workingDirectory = null)
    {
        var runner = StartCore(file, args, workingDirectory);
        if (stdin is not null) runner._process.StandardInput.Write(stdin);
        runner._process.StandardInput.Close();
        return runner;
    }

    /// <summary>Starts with standard input left open, for tools that read it while they run (mosquitto_pub -l);
    /// feed it with <see cref="WriteInputLineAsync"/> and end it with <see cref="CloseInput"/>.</summary>
    public static ProcessRunner StartWithInput(string file, IEnumerable<string> args) => StartCore(file, args);

    public async Task WriteInputLineAsync(string line)
    {
        await _process.StandardInput.WriteAsync(line + "\n");
        await _process.StandardInput.FlushAsync();
    }

    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>Runs to completion without blocking a thread (killed after <paramref name="timeout"/>, exit code -1).</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string file, IEnumerable<string> args, TimeSpan timeout, string? stdin = null)
    {
        await using var runner = Start(file, args, stdin);
        bool exited = await runner.WaitForExitAsync(timeout);
        if (!exited) runner.Kill();
        return (exited ? runner.ExitCode : -1, runner.Stdout, runner.Stderr);
    }

    private static ProcessRunner StartCore(string file, IEnumerable<string> args, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory ?? "",
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        return new ProcessRunner(process);
    }

    /// <summary>Runs to completion (killed after <paramref name="timeout"/>).</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(string file, IEnumerable<string> args, TimeSpan timeout, string? stdin = null)
    {
        using var runner = Start(file, args, stdin).AsSync();
        bool exited = runner.Runner._process.WaitForExit(timeout);
        if (!exited) runner.Runner.Kill();
        runner.Runner._process.WaitForExit();
        return (exited ? runner.Runner.ExitCode : -1, runner.Runner.Stdout, runner.Runner.Stderr);
    }

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try { await _process.WaitForExitAsync(cts.Token); return true; }
        catch (OperationCanceledException) { return false; }
    }

    /// <summary>Waits until stdout or stderr contains <paramref name="fragment"/>.</summary>
    public async Task WaitForOutputAsync(string fragment, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Stdout.Contains(fragment) && !Stderr.Contains(fragment))
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) throw new TimeoutException($"'{fragment}' not seen. stdout:\n{Stdout}\nstderr:\n{Stderr}");
            await _outputChanged.WaitAsync(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }

    public void Kill()
    {
        try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
    }

    /// <summary>Sends a signal by process id (SIGTERM = 15, SIGKILL = 9).</summary>
    public void Signal(int signal) => ProcessRunner.Run("kill", [$"-{signal}", Id.ToString()], TimeSpan.FromSeconds(5));

    public async ValueTask DisposeAsync()
    {
        Kill();
        await WaitForExitAsync(TimeSpan.FromSeconds(10));
        _process.Dispose();
    }

    private SyncHandle AsSync() => new(this);

    private readonly struct SyncHandle(ProcessRunner runner) : IDisposable
    {
        public ProcessRunner Runner { get; } = runner;
        public void Dispose() { Runner.Kill(); Runner._process.Dispose(); }
    }
}
