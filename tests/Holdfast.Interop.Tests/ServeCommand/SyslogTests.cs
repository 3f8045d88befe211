using Holdfast.Interop.Tests.Infrastructure;

namespace Holdfast.Interop.Tests.ServeCommand;

/// <summary>log_dest syslog with a real syslog daemon: Debian's rsyslogd, listening on a socket of the test's own
/// (imuxsock) and writing what it receives to a file, which must show Holdfast's lines under its name and pid.</summary>
public sealed class SyslogTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("holdfast-rsyslog-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [SkippableFact]
    public async Task Rsyslogd_receives_the_brokers_lines()
    {
        string rsyslogd = DebianTool.Require("rsyslogd", "rsyslog");
        string socket = Path.Combine(_directory, "log.sock"), messages = Path.Combine(_directory, "messages");
        string config = Path.Combine(_directory, "rsyslog.conf");
        await File.WriteAllTextAsync(config, $"""
            global(workDirectory="{_directory}")
            module(load="imuxsock" SysSock.Use="off")
            input(type="imuxsock" Socket="{socket}")
            *.* action(type="omfile" file="{messages}" template="RSYSLOG_TraditionalFileFormat")
            """);
        await using var daemon = ProcessRunner.Start(rsyslogd, ["-n", "-f", config, "-i", Path.Combine(_directory, "rsyslogd.pid")]);
        await WaitForAsync(() => File.Exists(socket), "rsyslogd's socket");

        await using var broker = await BrokerProcess.StartHoldfastAsync($"log_dest syslog\nsyslog_socket {socket}\nlog_facility 4");
        await WaitForAsync(() => File.Exists(messages) && File.ReadAllText(messages).Contains(" running", StringComparison.Ordinal),
            "the broker's 'running' line in rsyslogd's file");
        string text = File.ReadAllText(messages);
        Assert.Matches($@"holdfast\[{broker.Pid}\]: \d+: Holdfast version \S+ running", text);
        Assert.Matches($@"holdfast\[{broker.Pid}\]: \d+: Opening ipv4 listen socket on port {broker.Port}\.", text);
    }

    private async Task WaitForAsync(Func<bool> done, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!done())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what} never came; files: {string.Join(", ", Directory.GetFiles(_directory))}");
            await Task.Delay(50);
        }
    }
}
