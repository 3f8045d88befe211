using System.Buffers;
using BenchmarkDotNet.Attributes;
using Holdfast.Broker;
using Holdfast.Protocol;

namespace Holdfast.Benchmarks;

/// <summary>Parse and write one QoS 1 PUBLISH, as a connection's read and write loops do for every message (parsing
/// with the connection's <see cref="PacketReaderCache"/>, the packet handed back as after a PUBLISH the broker did not keep;
/// writing the <see cref="OutboundPacket"/> form the broker queues).</summary>
[MemoryDiagnoser, ShortRunJob]
public class CodecBenchmarks
{
    private ReadOnlySequence<byte> _encoded;
    private PublishPacket _packet = null!;
    // What a connection's write loop gets from the broker: the shared message and this delivery's fields.
    private OutboundPacket _outbound;
    // As a connection reads: into the packet handed back after the previous message, with the topic string cached.
    private readonly PacketReaderCache _readerCache = new();
    // Reset per operation, so only the codec's own allocations show (a connection's PipeWriter plays this part).
    private readonly ArrayBufferWriter<byte> _output = new(8192);

    [Params(ProtocolVersion.V311, ProtocolVersion.V500)]
    public ProtocolVersion Version { get; set; }

    [Params(64, 4096)]
    public int PayloadBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _packet = new PublishPacket
        {
            Topic = "plant/line-42/sensor-7/temp",
            QoS = QualityOfService.AtLeastOnce,
            PacketId = 4242,
            Payload = new byte[PayloadBytes],
        };
        _encoded = new ReadOnlySequence<byte>(PacketWriter.ToArray(_packet, Version));
        var message = new Message(_packet.Topic, _packet.Payload, _packet.QoS, false, null, "publisher", 0);
        _outbound = OutboundPacket.Publish(message, _packet.QoS, false, false, _packet.PacketId, null, null);
    }

    [Benchmark]
    public MqttPacket? ParsePublish()
    {
        var buffer = _encoded;
        PacketReader.TryRead(ref buffer, Version, 0, out var packet, _readerCache);
        _readerCache.Return((PublishPacket)packet!);
        return packet;
    }

    [Benchmark]
    public int WritePublish()
    {
        _output.ResetWrittenCount();
        return PacketWriter.Write(_outbound, Version, _output);
    }
}
