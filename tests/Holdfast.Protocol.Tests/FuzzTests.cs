using System.Buffers;
using CsCheck;
using Holdfast.Protocol.Tests.Helpers;

namespace Holdfast.Protocol.Tests;

/// <summary>
/// Hostile input: the reader must answer every byte sequence with a packet, "need more bytes", or an
/// <see cref="MqttProtocolException"/> — never IndexOutOfRange, ArgumentOutOfRange, overflow, a hang, or a
/// packet it cannot write back.
/// </summary>
public class FuzzTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    /// <summary>Runs <paramref name="action"/> on a worker and fails if it does not finish in time (a hang).</summary>
    private static void WithinDeadline(Action action)
    {
        var task = Task.Run(action);
        Assert.True(task.Wait(Deadline), "the reader did not finish: possible infinite loop");
    }

    /// <summary>
    /// Feeds <paramref name="bytes"/> (in the given segments) to TryRead repeatedly, as a connection loop would,
    /// and checks the contract on each outcome.
    /// </summary>
    private static void Feed(byte[] bytes, int[] cuts, ProtocolVersion v, int maxPacketSize)
    {
        var buffer = Wire.Segmented(bytes, cuts.Select(c => c % (bytes.Length + 1)));
        for (int guard = 0; guard <= bytes.Length + 1; guard++)
        {
            long before = buffer.Length;
            bool complete;
            MqttPacket? packet;
            try
            {
                complete = PacketReader.TryRead(ref buffer, v, maxPacketSize, out packet);
            }
            catch (MqttProtocolException ex)
            {
                Assert.True(Enum.IsDefined(ex.ReasonCode) && (byte)ex.ReasonCode >= 0x80, $"odd reason code 0x{(byte)ex.ReasonCode:X2}");
                return;
            }
            catch (Exception ex)
            {
                Assert.Fail($"{ex.GetType().Name} from {v} input {Wire.Hex(bytes)}: {ex}");
                return;
            }

            if (!complete)
            {
                Assert.Null(packet);
                Assert.Equal(before, buffer.Length);
                return;
            }

            Assert.NotNull(packet);
            Assert.True(buffer.Length < before, "a packet was returned but nothing consumed");
            AssertRewritable(packet!, v);
        }
        Assert.Fail("more packets than bytes");
    }

    /// <summary>Whatever the reader accepts, the writer can encode, and the encoding decodes to the same packet.</summary>
    private static void AssertRewritable(MqttPacket packet, ProtocolVersion v)
    {
        // 3.1.1 SUBACK codes other than 0x00-0x02 and 0x80 are reserved: the writer folds failures to 0x80.
        if (v != ProtocolVersion.V500 && packet is SubAckPacket s && s.ReasonCodes.Any(c => !MqttGen.SubAckCodesV3.Contains((byte)c)))
            return;
        byte[] bytes;
        try
        {
            bytes = PacketWriter.ToArray(packet, v);
        }
        catch (Exception ex)
        {
            Assert.Fail($"cannot re-encode decoded {PacketComparer.Describe(packet)}: {ex}");
            return;
        }
        Assert.Equal(bytes.Length, PacketWriter.GetSize(packet, v));
        PacketComparer.AssertEqual(packet, PacketReader.Read(bytes, v), "re-encoding a fuzzed packet");
    }

    private static readonly Gen<int> MaxPacketSize = Gen.Frequency((3, Gen.Const(0)), (1, Gen.Int[1, 300]));

    [Fact]
    public void Random_bytes_never_throw_anything_but_MqttProtocolException()
    {
        var gen = Gen.Select(
            MqttGen.Version,
            Gen.Frequency((3, Gen.Byte.Array[0, 16]), (2, Gen.Byte.Array[16, 200])),
            Gen.Int[0, int.MaxValue].Array[0, 4],
            MaxPacketSize);
        WithinDeadline(() => gen.Sample((v, bytes, cuts, max) => Feed(bytes, cuts, v, max), iter: 50_000, print: t => $"{t.Item1} {Wire.Hex(t.Item2)}"));
    }

    /// <summary>Random bytes behind a plausible fixed header with a correct remaining length, so they reach each decoder.</summary>
    [Fact]
    public void Random_bodies_behind_every_first_byte_never_throw_anything_but_MqttProtocolException()
    {
        var gen = Gen.Select(MqttGen.Version, Gen.Byte, Gen.Byte.Array[0, 64], Gen.Int[0, int.MaxValue].Array[0, 3]);
        WithinDeadline(() => gen.Sample((v, first, body, cuts) => Feed(Wire.Packet(first, body), cuts, v, 0),
            iter: 100_000, print: t => $"{t.Item1} {Wire.Hex(Wire.Packet(t.Item2, t.Item3))}"));
    }

    public enum Mutation { SetByte, FlipBit, Insert, Delete, Truncate, Duplicate, Swap }

    private static byte[] Mutate(byte[] bytes, Mutation m, int position, byte value)
    {
        if (bytes.Length == 0) return [value];
        int at = position % bytes.Length;
        var list = bytes.ToList();
        switch (m)
        {
            case Mutation.SetByte: list[at] = value; break;
            case Mutation.FlipBit: list[at] ^= (byte)(1 << (value & 7)); break;
            case Mutation.Insert: list.Insert(at, value); break;
            case Mutation.Delete: list.RemoveAt(at); break;
            case Mutation.Truncate: list.RemoveRange(at, list.Count - at); break;
            case Mutation.Duplicate: list.InsertRange(at, list.Skip(at).Take(1 + value % 8).ToList()); break;
            case Mutation.Swap:
                int other = (at + 1 + value) % list.Count;
                (list[at], list[other]) = (list[other], list[at]);
                break;
        }
        return [.. list];
    }

    /// <summary>
    /// Valid packets with one to four random mutations. Half the time the remaining length is recomputed so that
    /// the damage reaches the body decoders instead of just desynchronising the length.
    /// </summary>
    [Fact]
    public void Mutated_valid_packets_never_throw_anything_but_MqttProtocolException()
    {
        var mutation = Gen.Select(Gen.Enum<Mutation>(), Gen.Int[0, int.MaxValue], Gen.Byte);
        var gen = Gen.Select(MqttGen.VersionedPacket, mutation.Array[1, 4], Gen.Bool, Gen.Int[0, int.MaxValue].Array[0, 3], MaxPacketSize);
        WithinDeadline(() => gen.Sample((vp, mutations, fixLength, cuts, max) =>
        {
            var bytes = PacketWriter.ToArray(vp.Packet, vp.Version);
            bool mutateBodyOnly = fixLength && bytes.Length > 2;
            byte first = bytes[0];
            var target = mutateBodyOnly ? Wire.Body(bytes) : bytes;
            foreach (var (kind, pos, value) in mutations) target = Mutate(target, kind, pos, value);
            var input = mutateBodyOnly ? Wire.Rewrap(first, target) : target;
            Feed(input, cuts, vp.Version, max);
        }, iter: 30_000, print: t => $"{t.Item1.Version} {PacketComparer.Describe(t.Item1.Packet)} mutations {string.Join(",", t.Item2)} fix={t.Item3}"));
    }

    /// <summary>
    /// Every single-byte value at every position of a few hand-picked MQTT 5 packets that use each decoder path
    /// (exhaustive, not random).
    /// </summary>
    [Fact]
    public void Every_byte_value_at_every_position_of_sample_packets()
    {
        var samples = new MqttPacket[]
        {
            new ConnectPacket
            {
                ProtocolVersion = ProtocolVersion.V500, ClientId = "c", KeepAlive = 5,
                Properties = new MqttProperties { ReceiveMaximum = 5, AuthenticationMethod = "m", AuthenticationData = [1] },
                Will = new WillMessage { Topic = "w", Payload = [1], Properties = new MqttProperties { WillDelayInterval = 1, ContentType = "t" } },
                UserName = "u", Password = [2],
            },
            new PublishPacket
            {
                QoS = QualityOfService.AtLeastOnce, PacketId = 3, Topic = "a/b", Payload = new byte[] { 9 },
                Properties = new MqttProperties { SubscriptionIdentifiers = [200], TopicAlias = 2, UserProperties = [new("k", "v")] },
            },
            new SubscribePacket
            {
                PacketId = 4, Properties = new MqttProperties { SubscriptionIdentifiers = [1] },
                Subscriptions = [new() { TopicFilter = "$share/g/a", MaximumQoS = QualityOfService.AtLeastOnce }, new() { TopicFilter = "x/#", NoLocal = true }],
            },
            new PubRecPacket { PacketId = 5, ReasonCode = ReasonCode.QuotaExceeded, Properties = new MqttProperties { ReasonString = "r" } },
            new DisconnectPacket { ReasonCode = ReasonCode.ServerMoved, Properties = new MqttProperties { ServerReference = "s", SessionExpiryInterval = 1 } },
            new ConnAckPacket { Properties = new MqttProperties { MaximumQoS = 1, TopicAliasMaximum = 3, AssignedClientIdentifier = "id" } },
        };
        WithinDeadline(() =>
        {
            foreach (var packet in samples)
            {
                var bytes = PacketWriter.ToArray(packet, ProtocolVersion.V500);
                for (int i = 0; i < bytes.Length; i++)
                {
                    for (int b = 0; b < 256; b++)
                    {
                        var copy = bytes.ToArray();
                        copy[i] = (byte)b;
                        Feed(copy, [], ProtocolVersion.V500, 0);
                        if (i >= Wire.FixedHeaderLength(bytes)) Feed(Wire.Rewrap(copy[0], copy.AsSpan(Wire.FixedHeaderLength(bytes))), [], ProtocolVersion.V500, 0);
                    }
                }
            }
        });
    }

    [Fact]
    public void Empty_input_needs_more_bytes()
    {
        foreach (var v in MqttGen.AllVersions)
        {
            var empty = ReadOnlySequence<byte>.Empty;
            Assert.False(PacketReader.TryRead(ref empty, v, 0, out var p));
            Assert.Null(p);
            var one = new ReadOnlySequence<byte>(new byte[] { 0x30 });
            Assert.False(PacketReader.TryRead(ref one, v, 0, out _));
            Assert.Equal(1, one.Length);
        }
    }
}
