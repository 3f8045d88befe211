using Holdfast.Server.Configuration;

namespace Holdfast.Server.Tests;

public class NotYetSupportedTests
{
    [Theory]
    [InlineData("listener 1883\n\nacl_file /etc/acl", 3, "acl_file: ACL files are not supported yet")]
    public void Directives_this_version_cannot_honour_stop_startup_naming_the_line(string text, int line, string reason)
    {
        var config = ConfigParser.Parse(text, "h.conf");
        var e = Assert.Throws<ConfigException>(() => NotYetSupported.Check(config));
        Assert.Equal($"h.conf:{line}: {reason}", e.Message);
    }

    [Fact]
    public void Supported_config_passes()
    {
        var config = ConfigParser.Parse("listener 1883\nallow_anonymous true\nsys_interval 10\nmetrics_listener 9234\nmax_inflight_messages 5\n"
            + "listener 8883\ncertfile /etc/x.crt\nkeyfile /etc/x.key\nrequire_certificate true\ncafile /etc/ca.crt\nlistener 9001\nprotocol websockets", "h.conf");
        NotYetSupported.Check(config);
    }
}
