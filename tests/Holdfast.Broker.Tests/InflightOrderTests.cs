using Holdfast.Protocol;

namespace Holdfast.Broker.Tests;

/// <summary>The session's inflight order is an intrusive list through the messages, and completed records are reused.</summary>
public class InflightOrderTests
{
    private static readonly Message Body = new("t", new byte[] { 1 }, QualityOfService.AtLeastOnce, false, null, "p", 0);

    private static ushort[] Order(Session s) => s.Inflight.Select(m => m.PacketId).ToArray();

    [Fact]
    public void Removing_in_the_middle_at_the_ends_and_adding_again_keeps_the_send_order()
    {
        var session = new Session("s");
        for (ushort id = 1; id <= 5; id++) session.StartInflight(id, Body, QualityOfService.AtLeastOnce, false, null);
        Assert.Equal([1, 2, 3, 4, 5], Order(session));

        Assert.True(session.RemoveInflight(2));
        Assert.True(session.RemoveInflight(4));
        Assert.False(session.RemoveInflight(4));
        Assert.Equal([1, 3, 5], Order(session));

        Assert.True(session.RemoveInflight(1));
        Assert.Equal(3, session.OldestInflight!.PacketId);
        Assert.True(session.RemoveInflight(5));
        Assert.Equal([3], Order(session));

        session.StartInflight(6, Body, QualityOfService.ExactlyOnce, true, [9]);
        session.StartInflight(7, Body, QualityOfService.AtLeastOnce, false, null);
        Assert.Equal([3, 6, 7], Order(session));
        Assert.Equal(3, session.InflightCount);
        Assert.Equal(6, session.FindInflight(6)!.PacketId);

        Assert.True(session.RemoveInflight(3));
        Assert.True(session.RemoveInflight(7));
        Assert.True(session.RemoveInflight(6));
        Assert.Empty(Order(session));
        Assert.Null(session.OldestInflight);
        session.StartInflight(8, Body, QualityOfService.AtLeastOnce, false, null);
        Assert.Equal([8], Order(session));
    }

    [Fact]
    public void A_reused_record_starts_clean_and_a_completed_one_lets_go_of_its_message()
    {
        var session = new Session("s");
        var first = session.StartInflight(1, Body, QualityOfService.ExactlyOnce, true, [4]);
        first.State = InflightState.AwaitingPubComp;
        first.Sent = first.EverSent = first.AckTimeoutReported = true;
        first.SentAt = first.RetriedAt = 99;
        session.UnsentInflight = 0;

        Assert.True(session.RemoveInflight(1));
        Assert.Null(first.Message);
        Assert.Null(first.SubscriptionIds);

        var other = new Message("u", new byte[] { 2 }, QualityOfService.AtLeastOnce, false, null, "p", 0);
        var second = session.StartInflight(2, other, QualityOfService.AtLeastOnce, false, null);
        Assert.Same(first, second);
        Assert.Equal(2, second.PacketId);
        Assert.Same(other, second.Message);
        Assert.Equal(InflightState.AwaitingPubAck, second.State);
        Assert.False(second.Sent || second.EverSent || second.AckTimeoutReported || second.Retain);
        Assert.Equal(0, second.SentAt + second.RetriedAt);
        Assert.Null(second.SubscriptionIds);
        Assert.Null(session.FindInflight(1));
    }

    [Fact]
    public void At_most_a_few_spare_records_are_kept()
    {
        var session = new Session("s");
        var made = new List<InflightMessage>();
        for (ushort id = 1; id <= 20; id++) made.Add(session.StartInflight(id, Body, QualityOfService.AtLeastOnce, false, null));
        for (ushort id = 1; id <= 20; id++) session.RemoveInflight(id);
        var again = Enumerable.Range(21, 20).Select(id => session.StartInflight((ushort)id, Body, QualityOfService.AtLeastOnce, false, null)).ToList();
        Assert.Equal(Session.MaxSpareInflight, again.Count(m => made.Contains(m)));
    }

    [Fact]
    public void An_unsent_message_removed_from_the_middle_is_no_longer_counted_as_unsent()
    {
        var session = new Session("s");
        for (ushort id = 1; id <= 3; id++) session.StartInflight(id, Body, QualityOfService.AtLeastOnce, false, null);
        session.UnsentInflight = 3;
        session.RemoveInflight(2);
        Assert.Equal(2, session.UnsentInflight);
    }
}
