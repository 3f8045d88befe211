using Holdfast.Tools.Tests.Infrastructure;

namespace Holdfast.Tools.Tests.Clients;

/// <summary>Bad flags stop pub and sub with a clear message and exit 2; an unreachable or refusing broker gives exit 1.</summary>
public class FlagErrorTests
{
    [Theory]
    [InlineData("-q 3", "QoS must be 0, 1 or 2")]
    [InlineData("-V mqttv6", "unknown protocol version 'mqttv6'")]
    [InlineData("-t a/# -m x", "'a/#' is not a valid topic name")]
    [InlineData("-m x", "a topic is needed")]
    [InlineData("-t a -m x -n", "exactly one of -m, -f, -l, -s or -n")]
    [InlineData("-t a -m x -c", "-c needs a client id")]
    [InlineData("-t a -m x -x abc", "-x: 'abc' is not a number of seconds")]
    [InlineData("-t a -m x -V mqttv311 -D publish content-type text/plain", "-D (MQTT 5 properties) needs -V mqttv5")]
    [InlineData("-t a -m x -D publish colour red", "unknown property identifier 'colour'")]
    [InlineData("-t a -m x -D publish message-expiry-interval", "-D needs COMMAND IDENTIFIER VALUE")]
    [InlineData("-t a -m x -D publish user-property k", "needs a name and a value")]
    public async Task Pub_refuses_bad_flags(string args, string message)
    {
        var (exit, _, stderr) = await HoldfastCli.RunAsync(["pub", .. args.Split(' ')]);
        Assert.Equal(2, exit);
        Assert.Contains(message, stderr);
    }

    [Theory]
    [InlineData("-t a/#/b", "'a/#/b' is not a valid topic filter")]
    [InlineData("-q 1", "at least one topic filter")]
    [InlineData("-t a --no-ack --manual-ack", "choose one of --no-ack, --manual-ack and --ack-delay")]
    [InlineData("-t a --nl -V mqttv311", "need -V mqttv5")]
    [InlineData("-t a --bogus", "--bogus")]
    [InlineData("-t a -q abc", "abc")]
    public async Task Sub_refuses_bad_flags(string args, string message)
    {
        var (exit, _, stderr) = await HoldfastCli.RunAsync(["sub", .. args.Split(' ')]);
        Assert.Equal(2, exit);
        Assert.Contains(message, stderr);
    }

    [Fact]
    public async Task An_unreachable_broker_is_a_connection_error_with_exit_1()
    {
        int port = BrokerProcess.FreePort();
        var (exit, _, stderr) = await HoldfastCli.RunAsync(["pub", "-h", "127.0.0.1", "-p", port.ToString(), "-t", "a", "-m", "x"]);
        Assert.Equal(1, exit);
        Assert.Contains("Connection error", stderr);
    }

    [SkippableTheory]
    [InlineData("mqttv5", 135)] // 0x87 Not authorized
    [InlineData("mqttv311", 5)] // connection refused, not authorised
    public async Task A_refused_connection_exits_with_the_CONNACK_code_as_mosquitto_pub_does(string version, int code)
    {
        await using var broker = await BrokerProcess.StartMosquittoAsync("allow_anonymous false\n");
        foreach (var tool in new[] { "pub", "sub" })
        {
            var (exit, _, stderr) = await HoldfastCli.RunAsync([tool, "-h", "127.0.0.1", "-p", broker.Port.ToString(), "-V", version, "-t", "a", .. tool == "pub" ? new[] { "-m", "x" } : []]);
            Assert.True(exit == code, $"{tool}: exit {exit}: {stderr}");
            Assert.Contains("Connection error", stderr);
        }
    }
}
