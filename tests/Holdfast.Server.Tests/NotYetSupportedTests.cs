using Holdfast.Server.Configuration;

namespace Holdfast.Server.Tests;

public class NotYetSupportedTests
{
    [Theory]
    [InlineData("listener 8883\ncertfile /etc/x.crt", 2, "certfile: TLS listeners are not supported yet")]
    [InlineData("sys_interval 10", 1, "sys_interval: $SYS topics are not published yet (set 0 or remove the line)")]
    [InlineData("listener 9001\nprotocol websockets", 1, "protocol websockets: only mqtt listeners are supported yet")]
    public void Directives_this_version_cannot_honour_stop_startup_naming_the_line(string text, int line, string reason)
    {
        var config = ConfigParser.Parse(text, "h.conf");
        var e = Assert.Throws<ConfigException>(() => NotYetSupported.Check(config));
        Assert.Equal($"h.conf:{line}: {reason}", e.Message);
    }

    [Fact]
    public void Supported_config_passes()
    {
        var config = ConfigParser.Parse("listener 1883\nallow_anonymous true\nacl_file /etc/acl\nsys_interval 0\nmax_inflight_messages 5", "h.conf");
        NotYetSupported.Check(config);
    }
}
