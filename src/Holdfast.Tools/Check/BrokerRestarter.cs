using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Holdfast.Tools.Check;

/// <summary>
/// Restarts the broker under test. With --broker-command check owns the broker: it runs the command with
/// <c>setsid sh -c</c> so that the shell and everything it starts share one process group, and a restart is SIGKILL to
/// that whole group (a crash: no shutdown code runs) followed by the same command again. With --restart-command the user's
/// command does the killing and restarting. Either way the restart is over when the broker's port accepts connections.
/// </summary>
internal sealed class BrokerRestarter : IAsyncDisposable
{
    private const int SigKill = 9, SigTerm = 15, NoSuchProcess = 3;
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly string? _brokerCommand;
    private readonly string? _restartCommand;
    private readonly string _host;
    private readonly int _port;
    private readonly Queue<string> _recentOutput = new();
    private Process? _broker;

    private BrokerRestarter(string? brokerCommand, string? restartCommand, string host, int port)
    {
        _brokerCommand = brokerCommand;
        _restartCommand = restartCommand;
        _host = host;
        _port = port;
    }

    /// <summary>Starts the broker with <paramref name="command"/> and waits until it accepts connections.</summary>
    public static async Task<BrokerRestarter> StartOwnedAsync(string command, string host, int port, CancellationToken cancellationToken)
    {
        if (await AcceptsAsync(host, port, cancellationToken))
            throw new BrokerUnavailableException($"{host}:{port} already accepts connections before --broker-command ran: is another broker running there?");
        var restarter = new BrokerRestarter(command, null, host, port);
        try
        {
            restarter.StartBroker();
            await restarter.WaitUntilAcceptingAsync(cancellationToken);
            return restarter;
        }
        catch
        {
            await restarter.DisposeAsync();
            throw;
        }
    }

    public static BrokerRestarter External(string restartCommand, string host, int port) => new(null, restartCommand, host, port);

    /// <summary>Kills the broker and waits until it is back. Throws <see cref="BrokerUnavailableException"/> if it does not come back.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken)
    {
        if (_brokerCommand is not null)
        {
            await KillGroupAsync();
            StartBroker();
        }
        else
        {
            using var shell = StartShell(_restartCommand!, setsid: false);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(StartTimeout);
            try { await shell.WaitForExitAsync(timeout.Token); }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                shell.Kill(entireProcessTree: true);
                throw new BrokerUnavailableException($"--restart-command did not finish within {StartTimeout.TotalSeconds:0} s");
            }
            if (shell.ExitCode != 0)
                throw new BrokerUnavailableException($"--restart-command exited with {shell.ExitCode}: {RecentOutput}");
        }
        await WaitUntilAcceptingAsync(cancellationToken);
    }

    /// <summary>The broker's (or restart command's) last lines of output, for error messages.</summary>
    public string RecentOutput { get { lock (_recentOutput) return string.Join('\n', _recentOutput); } }

    private void StartBroker() => _broker = StartShell(_brokerCommand!, setsid: true);

    private Process StartShell(string command, bool setsid)
    {
        var info = new ProcessStartInfo(setsid ? "setsid" : "sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        // setsid execs sh in place (the child of a .NET process is not a group leader), so the process id is the group id.
        if (setsid) info.ArgumentList.Add("sh");
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(command);
        var process = Process.Start(info) ?? throw new BrokerUnavailableException($"cannot start sh -c {command}");
        process.OutputDataReceived += (_, e) => Remember(e.Data);
        process.ErrorDataReceived += (_, e) => Remember(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();
        return process;
    }

    private void Remember(string? line)
    {
        if (line is null) return;
        lock (_recentOutput)
        {
            _recentOutput.Enqueue(line);
            while (_recentOutput.Count > 20) _recentOutput.Dequeue();
        }
    }

    private async Task WaitUntilAcceptingAsync(CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (!await AcceptsAsync(_host, _port, cancellationToken))
        {
            if (_broker is { HasExited: true } exited)
            {
                // Its last words may still be in the pipe: read to the end before quoting them.
                await exited.WaitForExitAsync(cancellationToken);
                throw new BrokerUnavailableException($"the broker command exited with {exited.ExitCode} before accepting connections:\n{RecentOutput}");
            }
            if (deadline.Elapsed > StartTimeout)
                throw new BrokerUnavailableException($"the broker did not accept connections on {_host}:{_port} within {StartTimeout.TotalSeconds:0} s:\n{RecentOutput}");
            await Task.Delay(100, cancellationToken);
        }
    }

    private static async Task<bool> AcceptsAsync(string host, int port, CancellationToken cancellationToken)
    {
        using var probe = new Socket(SocketType.Stream, ProtocolType.Tcp);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(1));
        try
        {
            await probe.ConnectAsync(host, port, timeout.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return false;
        }
    }

    /// <summary>Signals the broker's whole process group and waits until no process of it is left (a restarted broker
    /// must not find the old one still holding its port or its store's lock). Returns false if some are still there.</summary>
    private async Task<bool> SignalGroupAsync(int signal, TimeSpan wait)
    {
        if (_broker is not { } broker) return true;
        int group = broker.Id;
        _ = Kill(-group, signal); // whether it worked, the loop below finds out
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < wait)
        {
            if (Kill(-group, 0) != 0 && Marshal.GetLastPInvokeError() == NoSuchProcess)
            {
                await broker.WaitForExitAsync();
                broker.Dispose();
                _broker = null;
                return true;
            }
            await Task.Delay(20);
        }
        return false;
    }

    private async Task KillGroupAsync()
    {
        if (!await SignalGroupAsync(SigKill, TimeSpan.FromSeconds(30)))
            throw new BrokerUnavailableException("the broker's processes were still there 30 s after SIGKILL");
    }

    // DllImport rather than LibraryImport: the latter's generated code needs unsafe blocks, which this solution keeps off.
    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>Stops an owned broker: SIGTERM to its group, SIGKILL if it is still there after 10 s.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!await SignalGroupAsync(SigTerm, TimeSpan.FromSeconds(10))) await SignalGroupAsync(SigKill, TimeSpan.FromSeconds(10));
    }
}

/// <summary>The broker cannot be reached, started or restarted.</summary>
internal sealed class BrokerUnavailableException(string message) : Exception(message);
