using Holdfast.Tools.Tests.Infrastructure;

namespace Holdfast.Tools.Tests.Check;

/// <summary>Usage and connection errors: exit 2 with a message that names the problem (exit 1 is reserved for violations).</summary>
public class CheckCommandTests
{
    [Theory]
    [InlineData("unknown protocol version 'mqttv4'", "-V", "mqttv4")]
    [InlineData("invalid QoS '3'", "--qos", "1,3")]
    [InlineData("--publishers", "--publishers", "abc")]
    [InlineData("unknown option or argument '--bogus'", "--bogus")]
    [InlineData("--restart-every needs --broker-command or --restart-command", "--restart-every", "5")]
    [InlineData("not both", "--broker-command", "true", "--restart-command", "true")]
    [InlineData("--duration must be more than 0", "-d", "0")]
    [InlineData("--json /nonexistent-holdfast-dir/report.json: no directory /nonexistent-holdfast-dir", "--json", "/nonexistent-holdfast-dir/report.json")]
    public async Task Bad_input_exits_2_with_a_clear_message(string message, params string[] args)
    {
        var (exitCode, _, stderr) = await HoldfastCli.RunAsync(["check", .. args]);
        Assert.Equal(2, exitCode);
        Assert.Contains(message, stderr);
    }

    [Fact]
    public async Task An_unreachable_broker_exits_2()
    {
        int port = BrokerProcess.FreePort();
        var (exitCode, _, stderr) = await HoldfastCli.RunAsync(["check", "-h", "127.0.0.1", "-p", port.ToString(), "-d", "1"]);
        Assert.Equal(2, exitCode);
        Assert.Contains($"cannot reach the broker at 127.0.0.1:{port}", stderr);
    }
}
