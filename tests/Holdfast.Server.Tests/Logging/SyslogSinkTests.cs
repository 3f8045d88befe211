using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Holdfast.Broker;
using Holdfast.Server.Configuration;
using Holdfast.Server.Logging;

namespace Holdfast.Server.Tests.Logging;

/// <summary>log_dest syslog: the datagrams sent, in glibc syslog(3)'s form with Mosquitto's priorities.</summary>
public sealed class SyslogSinkTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("holdfast-syslog-").FullName;
    private readonly Socket _daemon = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);

    public SyslogSinkTests() => _daemon.Bind(new UnixDomainSocketEndPoint(SocketPath));

    private string SocketPath => Path.Combine(_directory, "log.sock");

    public void Dispose()
    {
        _daemon.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private string Receive()
    {
        var buffer = new byte[4096];
        _daemon.ReceiveTimeout = 5000;
        return Encoding.UTF8.GetString(buffer, 0, _daemon.Receive(buffer));
    }

    [Theory]
    [InlineData(LogType.Error, 3, "<27>")]
    [InlineData(LogType.Warning, 3, "<28>")]
    [InlineData(LogType.Notice, 3, "<29>")]
    [InlineData(LogType.Subscribe, 3, "<29>")]
    [InlineData(LogType.Information, 3, "<30>")]
    [InlineData(LogType.Debug, 3, "<31>")]
    [InlineData(LogType.Notice, 18, "<149>")]
    public void A_line_is_one_datagram_with_its_priority(LogType type, int facility, string priority)
    {
        using var sink = new SyslogSink(SocketPath, facility);
        sink.Send(type, "1764108000: New connection from 127.0.0.1:5 on port 1883.\n");
        Assert.Matches(new Regex(@"^" + Regex.Escape(priority) + @"[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d holdfast\[" + Environment.ProcessId
            + @"\]: 1764108000: New connection from 127\.0\.0\.1:5 on port 1883\.$"), Receive());
    }

    [Fact]
    public void Without_a_daemon_lines_are_dropped_and_a_daemon_that_appears_later_gets_the_next()
    {
        string missing = Path.Combine(_directory, "later.sock");
        using var sink = new SyslogSink(missing, SyslogSink.Daemon);
        sink.Send(LogType.Notice, "lost\n");
        using var later = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        later.Bind(new UnixDomainSocketEndPoint(missing));
        sink.Send(LogType.Notice, "found\n");
        var buffer = new byte[512];
        later.ReceiveTimeout = 5000;
        Assert.EndsWith(": found", Encoding.UTF8.GetString(buffer, 0, later.Receive(buffer)));
    }

    [Fact]
    public void Log_dest_syslog_takes_log_facility_and_syslog_socket_from_anywhere_in_the_file()
    {
        var config = ConfigParser.Parse("log_dest syslog\nlog_dest stdout\nlog_facility 2\nsyslog_socket /run/log.sock\n", "test.conf");
        var syslog = Assert.Single(config.LogDestinations, d => d.Kind == LogDestinationKind.Syslog);
        Assert.Equal((18, "/run/log.sock"), (syslog.Facility, syslog.Path));
        Assert.Equal(3, Assert.Single(ConfigParser.Parse("log_dest syslog\n", "t.conf").LogDestinations).Facility);
    }
}
