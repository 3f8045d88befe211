using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Holdfast.Protocol;

namespace Holdfast.Tools.Check;

/// <summary>What a run found, and its verdict: the table `check` prints and the JSON it writes are this object.</summary>
internal sealed class CheckReport
{
    public const string AcknowledgedDefinition =
        "QoS 1: the publisher received PUBACK with a reason code below 0x80; QoS 2: PUBREC below 0x80 (the broker owns the "
        + "message from then on). A PUBLISH whose connection ends before its acknowledgement is resent (DUP=1, same packet id) "
        + "after the reconnect and counts once a resend is acknowledged; one still unacknowledged when the run ends is "
        + "'unacknowledged': not a violation, but the run cannot say what the broker would have done with it, so the verdict "
        + "is then INCONCLUSIVE rather than PASS. A reason code of 0x80 or more is 'refused': not acknowledged, not resent, not a violation.";

    public const string GapDefinition =
        "longest gap: the longest time between two consecutive new deliveries of one publisher's messages at one subscriber; "
        + "max latency: the longest time from a message's first send to its first delivery; lost: an acknowledged message "
        + "a subscriber had not received by the end of the drain (when the drain times out, whatever is still awaited is "
        + "lost); longest lost run: the most consecutive acknowledged sequence numbers one subscriber did not receive. "
        + "Published, acknowledged, refused and "
        + "unacknowledged count messages; expected, received, lost, duplicates and out of order count deliveries (one per "
        + "subscriber). Duplicates are a violation for QoS 2 only: QoS 1 is at least once.";

    public const string Pass = "PASS", Fail = "FAIL", Inconclusive = "INCONCLUSIVE", Error = "ERROR";

    /// <summary>PASS, FAIL (a violation), INCONCLUSIVE (no violation, but something was not settled) or ERROR (the run
    /// itself failed, e.g. the broker did not come back after a restart).</summary>
    public required string Verdict { get; init; }
    public required List<string> Violations { get; init; }
    /// <summary>Why a run without violations is not a PASS: what it could not settle.</summary>
    public required List<string> Unsettled { get; init; }
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
    /// <summary>Before the drain timeout, every acknowledged message arrived at every subscriber and every publisher
    /// finished its flows.</summary>
    public required bool DrainComplete { get; init; }
    /// <summary>Acknowledged deliveries still awaited when the drain ended (zero if it completed); they count as lost.</summary>
    public required long AwaitedAtDrainEnd { get; init; }
    public required FaultCounts Faults { get; init; }
    public required int PublisherConnections { get; init; }
    public required int SubscriberConnections { get; init; }
    [JsonPropertyName("qos")]
    public required List<QoSResult> QoS { get; init; }
    public required List<string> SessionsLost { get; init; }
    public required long Unexpected { get; init; }
    public required List<string> UnexpectedSamples { get; init; }
    public required List<string> Errors { get; init; }
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "A property of the JSON report, which System.Text.Json writes from instance properties only.")]
    public string Acknowledged => AcknowledgedDefinition;
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "A property of the JSON report, which System.Text.Json writes from instance properties only.")]
    public string Gaps => GapDefinition;

    [JsonIgnore]
    public bool Passed => Verdict == Pass;

    /// <summary>The process exit code of a verdict: 0 PASS, 1 FAIL, 2 ERROR (as for bad flags), 3 INCONCLUSIVE.</summary>
    [JsonIgnore]
    public int ExitCode => Verdict switch
    {
        Pass => CheckCommand.Pass,
        Fail => CheckCommand.Violation,
        Inconclusive => CheckCommand.Inconclusive,
        _ => CheckCommand.UsageError,
    };

    /// <summary>An error of the run (the broker did not come back) makes what was measured unreliable, so it comes
    /// first; then any violation; then anything left unsettled.</summary>
    public static string Decide(IReadOnlyCollection<string> violations, IReadOnlyCollection<string> unsettled, IReadOnlyCollection<string> errors) =>
        errors.Count > 0 ? Error : violations.Count > 0 ? Fail : unsettled.Count > 0 ? Inconclusive : Pass;

    /// <summary>The broker's violations of the contract, from a ledger. QoS 0 is never one (it promises nothing).</summary>
    public static List<string> Judge(IEnumerable<QoSResult> results, IReadOnlyList<string> sessionsLost, long unexpected)
    {
        var violations = new List<string>();
        foreach (var r in results.Where(r => r.QoS > 0))
        {
            if (r.Lost > 0) violations.Add($"QoS {r.QoS}: {r.Lost} acknowledged deliveries lost (not received by the end of the drain)");
            if (r.QoS == 2 && r.Duplicates > 0) violations.Add($"QoS 2: {r.Duplicates} duplicates (exactly once broken)");
            if (r.OutOfOrder > 0) violations.Add($"QoS {r.QoS}: {r.OutOfOrder} messages out of order");
        }
        violations.AddRange(sessionsLost.Select(s => $"session lost: {s}"));
        if (unexpected > 0) violations.Add($"{unexpected} unexpected messages (never published by this run)");
        return violations;
    }

    /// <summary>What a run could not settle, each a sentence: nothing acknowledged at all, messages never acknowledged,
    /// a drain that timed out. None of these is a violation, and none lets the run say PASS.</summary>
    public static List<string> Settle(IReadOnlyCollection<QoSResult> results, bool drainTimedOut, TimeSpan drainTime, long awaited, int awaitingCompletion)
    {
        var unsettled = new List<string>();
        var qos12 = results.Where(r => r.QoS > 0).ToList();
        if (qos12.Count > 0 && qos12.Sum(r => r.Acknowledged) == 0)
            unsettled.Add("no message was acknowledged: the run proves nothing");
        long unacknowledged = qos12.Sum(r => r.Unacknowledged);
        if (unacknowledged > 0)
            unsettled.Add($"{unacknowledged} QoS 1/2 messages were still unacknowledged at the end: whether the broker would have kept them is not known");
        if (drainTimedOut)
        {
            var parts = new List<string>();
            if (awaited > 0) parts.Add($"{awaited} acknowledged deliveries were still awaited (counted as lost)");
            if (awaitingCompletion > 0) parts.Add($"{awaitingCompletion} QoS 2 flows still had no PUBCOMP");
            if (unacknowledged > 0) parts.Add("publishers were still waiting for acknowledgements");
            unsettled.Add($"the drain timed out after {drainTime.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s"
                + (parts.Count > 0 ? $": {string.Join("; ", parts)}" : ""));
        }
        return unsettled;
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
}
