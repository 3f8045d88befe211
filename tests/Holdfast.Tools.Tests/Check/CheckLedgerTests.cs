using System.Text;
using Holdfast.Tools.Check;
using Holdfast.Protocol;

namespace Holdfast.Tools.Tests.Check;

public class CheckLedgerTests
{
    private const string Run = "r1";
    private static readonly QualityOfService[] OneQoS1OneQoS2 = [QualityOfService.AtLeastOnce, QualityOfService.ExactlyOnce];

    private static CheckLedger Ledger(params QualityOfService[] publishers) => new(Run, publishers, ["s0", "s1"]);

    /// <summary>Publishes and acknowledges sequence numbers 0..count-1 of a publisher.</summary>
    private static void Acknowledge(CheckLedger ledger, int publisher, int count)
    {
        for (long n = 0; n < count; n++)
        {
            ledger.Published(publisher, n);
            ledger.Acknowledged(publisher, n);
        }
    }

    private static void Deliver(CheckLedger ledger, int subscriber, int publisher, params long[] sequences)
    {
        foreach (long n in sequences)
            ledger.Delivered(subscriber, CheckLedger.TopicOf(Run, publisher), new CheckPayload(Run, publisher, n, 0).Encode());
    }

    private static List<string> Violations(CheckLedger ledger, params QualityOfService[] levels) =>
        CheckReport.Judge(levels.Select(ledger.Result), ledger.SessionsLost, ledger.UnexpectedCount);

    private static List<string> Unsettled(CheckLedger ledger, params QualityOfService[] levels) =>
        CheckReport.Settle([.. levels.Select(ledger.Result)], drainTimedOut: false, TimeSpan.Zero, 0, 0);

    [Fact]
    public void Complete_delivery_to_every_subscriber_passes()
    {
        var ledger = Ledger(OneQoS1OneQoS2);
        Acknowledge(ledger, 0, 5);
        Acknowledge(ledger, 1, 5);
        for (int s = 0; s < 2; s++) { Deliver(ledger, s, 0, 0, 1, 2, 3, 4); Deliver(ledger, s, 1, 0, 1, 2, 3, 4); }

        Assert.Equal(0, ledger.Missing);
        Assert.Empty(Violations(ledger, QualityOfService.AtLeastOnce, QualityOfService.ExactlyOnce));
        Assert.Empty(Unsettled(ledger, QualityOfService.AtLeastOnce, QualityOfService.ExactlyOnce));
        var qos2 = ledger.Result(QualityOfService.ExactlyOnce);
        Assert.Equal((5, 10, 10, 0), (qos2.Acknowledged, qos2.Expected, qos2.Received, qos2.Lost));
    }

    [Fact]
    public void An_acknowledged_message_one_subscriber_never_receives_is_lost()
    {
        var ledger = Ledger(QualityOfService.AtLeastOnce);
        Acknowledge(ledger, 0, 6);
        Deliver(ledger, 0, 0, 0, 1, 2, 3, 4, 5);
        Deliver(ledger, 1, 0, 0, 1, 4, 5);

        Assert.Equal(2, ledger.Missing);
        var result = ledger.Result(QualityOfService.AtLeastOnce);
        Assert.Equal(2, result.Lost);
        Assert.Equal(2, result.LongestLostRun);
        Assert.Equal(new LostRange("s1", 0, 2, 3), Assert.Single(result.LostSamples));
        Assert.Contains("QoS 1: 2 acknowledged deliveries lost (not received by the end of the drain)", Violations(ledger, QualityOfService.AtLeastOnce));
    }

    [Fact]
    public void A_message_received_before_its_acknowledgement_is_not_awaited()
    {
        var ledger = Ledger(QualityOfService.AtLeastOnce);
        ledger.Published(0, 0);
        Deliver(ledger, 0, 0, 0);
        Deliver(ledger, 1, 0, 0);
        ledger.Acknowledged(0, 0);
        Assert.Equal(0, ledger.Missing);
    }

    [Fact]
    public void An_unacknowledged_message_that_never_arrives_is_not_a_violation_but_leaves_the_run_inconclusive()
    {
        var ledger = Ledger(QualityOfService.ExactlyOnce);
        Acknowledge(ledger, 0, 2);
        ledger.Published(0, 2);
        Deliver(ledger, 0, 0, 0, 1);
        Deliver(ledger, 1, 0, 0, 1);

        var result = ledger.Result(QualityOfService.ExactlyOnce);
        Assert.Equal((1, 0), (result.Unacknowledged, result.Lost));
        Assert.Empty(Violations(ledger, QualityOfService.ExactlyOnce));
        var unsettled = Unsettled(ledger, QualityOfService.ExactlyOnce);
        Assert.Contains(unsettled, u => u.StartsWith("1 QoS 1/2 messages were still unacknowledged at the end"));
        Assert.Equal(CheckReport.Inconclusive, CheckReport.Decide([], unsettled, []));
    }

    [Fact]
    public void A_drain_that_timed_out_says_what_it_still_awaited()
    {
        var ledger = Ledger(QualityOfService.ExactlyOnce);
        Acknowledge(ledger, 0, 1);
        Deliver(ledger, 0, 0, 0);
        Deliver(ledger, 1, 0, 0);

        var unsettled = CheckReport.Settle([ledger.Result(QualityOfService.ExactlyOnce)], drainTimedOut: true, TimeSpan.FromSeconds(2), awaited: 3, awaitingCompletion: 1);
        Assert.Equal(["the drain timed out after 2 s: 3 acknowledged deliveries were still awaited (counted as lost); 1 QoS 2 flows still had no PUBCOMP"], unsettled);
        Assert.Equal(CheckReport.Inconclusive, CheckReport.Decide([], unsettled, []));
    }

    [Fact]
    public void The_verdict_is_an_error_before_a_violation_and_a_violation_before_anything_unsettled()
    {
        Assert.Equal(CheckReport.Pass, CheckReport.Decide([], [], []));
        Assert.Equal(CheckReport.Fail, CheckReport.Decide(["lost"], ["unacknowledged"], []));
        Assert.Equal(CheckReport.Error, CheckReport.Decide(["lost"], ["unacknowledged"], ["broker restart 1 failed"]));
        Assert.Equal(CheckReport.Error, CheckReport.Decide([], [], ["broker restart 1 failed"]));
        string[] verdicts = [CheckReport.Pass, CheckReport.Fail, CheckReport.Error, CheckReport.Inconclusive];
        Assert.Equal([0, 1, 2, 3], verdicts.Select(v => Report(v).ExitCode));
    }

    private static CheckReport Report(string verdict) => new()
    {
        Verdict = verdict, Violations = [], Unsettled = [], RunId = "r", Broker = "b", Protocol = "mqttv5", Seed = 0, Publishers = 1,
        Subscribers = 1, RatePerPublisher = 1, Window = 1, DurationSeconds = 1, DrainSeconds = 0, DrainComplete = true,
        AwaitedAtDrainEnd = 0, Faults = new FaultCounts(0, 0, 0, 0, 0), PublisherConnections = 1, SubscriberConnections = 1, QoS = [],
        SessionsLost = [], Unexpected = 0, UnexpectedSamples = [], Errors = [],
    };

    [Fact]
    public void A_QoS_2_duplicate_is_a_violation()
    {
        var ledger = Ledger(QualityOfService.ExactlyOnce);
        Acknowledge(ledger, 0, 2);
        Deliver(ledger, 0, 0, 0, 1, 1);
        Deliver(ledger, 1, 0, 0, 1);

        Assert.Equal(1, ledger.Result(QualityOfService.ExactlyOnce).Duplicates);
        Assert.Contains(Violations(ledger, QualityOfService.ExactlyOnce), v => v.Contains("QoS 2: 1 duplicates"));
    }

    [Fact]
    public void A_QoS_1_duplicate_is_counted_and_allowed()
    {
        var ledger = Ledger(QualityOfService.AtLeastOnce);
        Acknowledge(ledger, 0, 2);
        Deliver(ledger, 0, 0, 0, 1, 0, 1);
        Deliver(ledger, 1, 0, 0, 1);

        Assert.Equal(2, ledger.Result(QualityOfService.AtLeastOnce).Duplicates);
        Assert.Empty(Violations(ledger, QualityOfService.AtLeastOnce));
    }

    [Theory]
    [InlineData(QualityOfService.AtLeastOnce)]
    [InlineData(QualityOfService.ExactlyOnce)]
    public void A_first_delivery_after_a_later_sequence_number_is_out_of_order(QualityOfService qos)
    {
        var ledger = Ledger(qos);
        Acknowledge(ledger, 0, 3);
        Deliver(ledger, 0, 0, 0, 2, 1);
        Deliver(ledger, 1, 0, 0, 1, 2);

        var result = ledger.Result(qos);
        Assert.Equal((1, 0), (result.OutOfOrder, result.Lost));
        Assert.Contains(Violations(ledger, qos), v => v.Contains("1 messages out of order"));
    }

    [Fact]
    public void A_resent_earlier_message_is_a_duplicate_not_out_of_order()
    {
        var ledger = Ledger(QualityOfService.AtLeastOnce);
        Acknowledge(ledger, 0, 3);
        Deliver(ledger, 0, 0, 0, 1, 2, 1, 2);
        Assert.Equal((0L, 2L), (ledger.Result(QualityOfService.AtLeastOnce).OutOfOrder, ledger.Result(QualityOfService.AtLeastOnce).Duplicates));
    }

    [Theory]
    [InlineData("holdfast-check/r1/p0", "r1/0/7/0")]        // never published
    [InlineData("holdfast-check/r1/p0", "other/0/0/0")]     // another run
    [InlineData("holdfast-check/r1/p0", "r1/1/0/0")]        // payload of p1 on p0's topic
    [InlineData("holdfast-check/r1/p0", "r1/9/0/0")]        // no such publisher
    [InlineData("holdfast-check/r1/p0", "not a check payload")]
    [InlineData("holdfast-check/r1/p0", "r1/0/-1/0")]
    [InlineData("holdfast-check/r1/x", "r1/0/0/0")]
    public void Anything_this_run_never_published_is_unexpected(string topic, string payload)
    {
        var ledger = Ledger(OneQoS1OneQoS2);
        Acknowledge(ledger, 0, 1);
        Acknowledge(ledger, 1, 1);
        ledger.Delivered(0, topic, Encoding.UTF8.GetBytes(payload));

        Assert.Equal(1, ledger.UnexpectedCount);
        Assert.StartsWith($"s0 received '{payload}' on '{topic}'", Assert.Single(ledger.UnexpectedSamples));
        Assert.Contains(Violations(ledger, QualityOfService.AtLeastOnce), v => v.Contains("1 unexpected"));
        Assert.Equal(0, ledger.Result(QualityOfService.AtLeastOnce).Received);
    }

    [Fact]
    public void A_lost_session_is_a_violation()
    {
        var ledger = Ledger(QualityOfService.AtLeastOnce);
        Acknowledge(ledger, 0, 1);
        Deliver(ledger, 0, 0, 0);
        Deliver(ledger, 1, 0, 0);
        ledger.SessionLost("s1", 3);
        Assert.Contains(Violations(ledger, QualityOfService.AtLeastOnce), v => v.Contains("s1: connection 3 found no session"));
    }

    [Fact]
    public void QoS_0_losses_are_reported_but_never_a_violation_and_never_awaited()
    {
        var ledger = Ledger(QualityOfService.AtMostOnce);
        for (long n = 0; n < 2; n++)
        {
            ledger.Published(0, n);
            ledger.SentAtMostOnce(0, n);
        }
        Deliver(ledger, 0, 0, 1, 0);

        var result = ledger.Result(QualityOfService.AtMostOnce);
        Assert.Equal((2, 4, 2, 1), (result.Published, result.Expected, result.Lost, result.OutOfOrder));
        Assert.Equal(0, ledger.Missing);
        Assert.Empty(CheckReport.Judge([result], [], 0));
        Assert.Empty(CheckReport.Settle([result], drainTimedOut: false, TimeSpan.Zero, 0, 0));
    }

    [Fact]
    public void A_QoS_0_message_the_connection_did_not_take_is_neither_published_nor_expected()
    {
        var ledger = Ledger(QualityOfService.AtMostOnce);
        ledger.Published(0, 0);
        ledger.SentAtMostOnce(0, 0);
        ledger.Published(0, 1);
        ledger.Withdrawn(0, 1);
        Deliver(ledger, 0, 0, 0);
        Deliver(ledger, 1, 0, 0);

        var result = ledger.Result(QualityOfService.AtMostOnce);
        Assert.Equal((1, 2, 2, 0), (result.Published, result.Expected, result.Received, result.Lost));
    }

    [Fact]
    public void A_run_in_which_nothing_was_acknowledged_proves_nothing()
    {
        var ledger = Ledger(QualityOfService.AtLeastOnce);
        ledger.Published(0, 0);
        Assert.Empty(Violations(ledger, QualityOfService.AtLeastOnce));
        Assert.Contains(Unsettled(ledger, QualityOfService.AtLeastOnce), v => v.Contains("no message was acknowledged"));
    }

    [Fact]
    public void Payloads_round_trip_and_malformed_ones_decode_to_null()
    {
        var payload = new CheckPayload("abc", 3, 123456789012, 1700000000000);
        Assert.Equal(payload, CheckPayload.TryDecode(payload.Encode()));
        foreach (var bad in new[] { "", "abc/3/1", "abc/3/1/2/5", "/3/1/2", "abc/+3/1/2", "abc/3/1/2 ", "abc/3/99999999999999999999/2" })
            Assert.Null(CheckPayload.TryDecode(Encoding.ASCII.GetBytes(bad)));
    }
}
