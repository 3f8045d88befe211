using System.Buffers;
using Holdfast.Protocol;

namespace Holdfast.Protocol.Tests;

public class ConnectPeekTests
{
    private static ConnectPeekResult Peek(byte[] bytes, out ProtocolVersion version) =>
        ConnectPeek.ProtocolLevel(new ReadOnlySequence<byte>(bytes), out version);

    [Theory]
    [InlineData(ProtocolVersion.V310)]
    [InlineData(ProtocolVersion.V311)]
    [InlineData(ProtocolVersion.V500)]
    public void A_whole_connect_gives_its_protocol_level_and_every_prefix_short_of_it_is_incomplete(ProtocolVersion version)
    {
        var connect = new ConnectPacket { ProtocolVersion = version, ProtocolName = version == ProtocolVersion.V310 ? "MQIsdp" : "MQTT", ClientId = "peek" };
        byte[] bytes = PacketWriter.ToArray(connect, version);
        Assert.Equal(ConnectPeekResult.Connect, Peek(bytes, out var level));
        Assert.Equal(version, level);
        int levelAt = 2 + 2 + connect.ProtocolName.Length; // fixed header (1-byte length here), name length, name
        for (int n = 0; n <= levelAt; n++)
            Assert.Equal(ConnectPeekResult.Incomplete, Peek(bytes[..n], out _));
    }

    [Theory]
    [InlineData(new byte[] { 0xC0, 0x00 })]                               // PINGREQ first
    [InlineData(new byte[] { 0x10, 0x0A, 0x00, 0x05, 0x4D })]             // protocol name of 5 bytes
    [InlineData(new byte[] { 0x10, 0x0A, 0x00, 0x04, 0x4D, 0x51, 0x54, 0x54, 0x09 })] // level 9
    [InlineData(new byte[] { 0x10, 0xFF, 0xFF, 0xFF, 0xFF })]             // remaining length over 4 bytes
    public void Anything_else_is_not_a_connect(byte[] bytes) =>
        Assert.Equal(ConnectPeekResult.NotConnect, Peek(bytes, out _));
}
