using System.Net;
using Holdfast.Server.Connections;

namespace Holdfast.Server.Tests.Connections;

/// <summary>Addresses in the log as Mosquitto writes them: an IPv4 client of a dual-stack listener as plain IPv4.</summary>
public class PeerAddressTests
{
    [Theory]
    [InlineData("::ffff:127.0.0.1", 47492, "127.0.0.1:47492")]
    [InlineData("::ffff:10.1.2.3", 1, "10.1.2.3:1")]
    [InlineData("127.0.0.1", 52718, "127.0.0.1:52718")]
    [InlineData("::1", 60123, "[::1]:60123")]
    [InlineData("fe80::1", 8883, "[fe80::1]:8883")]
    public void Ipv4_mapped_addresses_are_written_as_ipv4(string address, int port, string logged) =>
        Assert.Equal(logged, PeerAddress.Of(new IPEndPoint(IPAddress.Parse(address), port)));

    [Fact]
    public void No_address_is_unknown() => Assert.Equal("unknown", PeerAddress.Of(null));
}
