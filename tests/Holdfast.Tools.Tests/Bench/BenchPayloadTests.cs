using Holdfast.Tools.Bench;

namespace Holdfast.Tools.Tests.Bench;

public class BenchPayloadTests
{
    [Fact]
    public void A_payload_round_trips_at_its_size()
    {
        var payload = new BenchPayload(Sequence: 123_456_789_012, Publisher: 77, SentTicks: -5);
        var bytes = payload.Encode(64);
        Assert.Equal(64, bytes.Length);
        Assert.True(BenchPayload.TryDecode(bytes, out var decoded));
        Assert.Equal(payload, decoded);
        Assert.Equal(BenchPayload.MinimumSize, new BenchPayload(1, 2, 3).Encode(1).Length);
    }

    [Fact]
    public void A_payload_too_short_to_be_ours_is_rejected()
    {
        Assert.False(BenchPayload.TryDecode(new byte[BenchPayload.MinimumSize - 1], out _));
    }

    [Fact]
    public void The_sequence_set_counts_each_number_once_however_far_it_grows()
    {
        var set = new SequenceSet();
        Assert.True(set.Add(5));
        Assert.False(set.Add(5));
        Assert.True(set.Add(10_000_000));
        Assert.True(set.Contains(10_000_000));
        Assert.True(set.Contains(5));
        Assert.False(set.Contains(6));
        Assert.False(set.Contains(20_000_000));
    }
}
