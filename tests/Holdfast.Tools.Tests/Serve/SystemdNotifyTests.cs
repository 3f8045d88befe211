using System.Net.Sockets;
using System.Text;
using Holdfast.Tools.Tests.Infrastructure;

namespace Holdfast.Tools.Tests.Serve;

/// <summary>`holdfast serve` under systemd's Type=notify: READY=1 on the socket named by NOTIFY_SOCKET once it listens,
/// STOPPING=1 when SIGTERM starts the shutdown. The test plays systemd's side of the socket.</summary>
public sealed class SystemdNotifyTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("holdfast-notify-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task Serve_says_ready_once_listening_and_stopping_at_SIGTERM()
    {
        string socketPath = Path.Combine(_directory, "notify");
        using var systemd = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        systemd.Bind(new UnixDomainSocketEndPoint(socketPath));
        string config = Path.Combine(_directory, "holdfast.conf");
        await File.WriteAllTextAsync(config, $"listener 1883 127.0.0.1\npersistence false\nlog_dest stdout\n");

        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { BrokerProcess.HoldfastDll, "serve", "-c", config, "-p", "0" }) start.ArgumentList.Add(arg);
        start.Environment["NOTIFY_SOCKET"] = socketPath;
        using var serve = System.Diagnostics.Process.Start(start)!;
        try
        {
            Assert.Equal("READY=1", await ReceiveAsync(systemd));
            // Ready means listening: the log already says so.
            string output = await serve.StandardOutput.ReadLineAsync() ?? "";
            while (!output.Contains(" running")) output = await serve.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("no 'running' line");

            ProcessRunner.Run("kill", ["-15", serve.Id.ToString()], TimeSpan.FromSeconds(5));
            Assert.Equal("STOPPING=1", await ReceiveAsync(systemd));
            using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await serve.WaitForExitAsync(exited.Token);
            Assert.Equal(0, serve.ExitCode);
        }
        finally
        {
            if (!serve.HasExited) serve.Kill(entireProcessTree: true);
        }
    }

    private static async Task<string> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[256];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        int received = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        return Encoding.UTF8.GetString(buffer, 0, received);
    }
}
