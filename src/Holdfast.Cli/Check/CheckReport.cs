using System.Text.Json;
using System.Text.Json.Serialization;
using Holdfast.Protocol;

namespace Holdfast.Cli.Check;

/// <summary>What a run found, and its verdict: the table `check` prints and the JSON it writes are this object.</summary>
internal sealed class CheckReport
{
    public const string AcknowledgedDefinition =
        "QoS 1: the publisher received PUBACK with a reason code below 0x80; QoS 2: PUBREC below 0x80 (the broker owns the "
        + "message from then on). A PUBLISH whose connection ends before its acknowledgement is resent (DUP=1, same packet id) "
        + "after the reconnect and counts once a resend is acknowledged; one still unacknowledged when the run ends is "
        + "'unacknowledged', not a violation. A reason code of 0x80 or more is 'refused': not acknowledged, not resent, not a violation.";

    public const string GapDefinition =
        "longest gap: the longest time between two consecutive new deliveries of one publisher's messages at one subscriber; "
        + "max latency: the longest time from a message's first send to its first delivery; longest lost run: the most "
        + "consecutive acknowledged sequence numbers one subscriber never received. Published, acknowledged, refused and "
        + "unacknowledged count messages; expected, received, lost, duplicates and out of order count deliveries (one per "
        + "subscriber). Duplicates are a violation for QoS 2 only: QoS 1 is at least once.";

    public required string Verdict { get; init; }
    public required List<string> Violations { get; init; }
    public required string RunId { get; init; }
    public required string Broker { get; init; }
    public required string Protocol { get; init; }
    public required int Seed { get; init; }
    public required int Publishers { get; init; }
    public required int Subscribers { get; init; }
    public required double RatePerPublisher { get; init; }
    public required int Window { get; init; }
    public required double DurationSeconds { get; init; }
    public required double DrainSeconds { get; init; }
    /// <summary>Every acknowledged message arrived at every subscriber before the drain timeout.</summary>
    public required bool DrainComplete { get; init; }
    public required FaultCounts Faults { get; init; }
    public required int PublisherConnections { get; init; }
    public required int SubscriberConnections { get; init; }
    [JsonPropertyName("qos")]
    public required List<QoSResult> QoS { get; init; }
    public required List<string> SessionsLost { get; init; }
    public required long Unexpected { get; init; }
    public required List<string> UnexpectedSamples { get; init; }
    public required List<string> Errors { get; init; }
    public string Acknowledged => AcknowledgedDefinition;
    public string Gaps => GapDefinition;

    [JsonIgnore]
    public bool Passed => Verdict == "PASS";

    /// <summary>The violations a ledger and a run's errors add up to. QoS 0 is never one (it promises nothing).</summary>
    public static List<string> Judge(IEnumerable<QoSResult> results, IReadOnlyList<string> sessionsLost, long unexpected, IReadOnlyList<string> errors)
    {
        var violations = new List<string>();
        long acknowledged = 0;
        bool anyQoS12 = false;
        foreach (var r in results.Where(r => r.QoS > 0))
        {
            anyQoS12 = true;
            acknowledged += r.Acknowledged;
            if (r.Lost > 0) violations.Add($"QoS {r.QoS}: {r.Lost} acknowledged deliveries lost (acknowledged, never received)");
            if (r.QoS == 2 && r.Duplicates > 0) violations.Add($"QoS 2: {r.Duplicates} duplicates (exactly once broken)");
            if (r.OutOfOrder > 0) violations.Add($"QoS {r.QoS}: {r.OutOfOrder} messages out of order");
        }
        if (anyQoS12 && acknowledged == 0) violations.Add("no message was acknowledged: the run proves nothing");
        violations.AddRange(sessionsLost.Select(s => $"session lost: {s}"));
        if (unexpected > 0) violations.Add($"{unexpected} unexpected messages (never published by this run)");
        violations.AddRange(errors);
        return violations;
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        // The report is read by people too: keep ' and non-ASCII as they are (it is written to a file or stdout, never into HTML).
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static string ProtocolName(ProtocolVersion version) => version == ProtocolVersion.V500 ? "mqttv5" : "mqttv311";
}
