using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Holdfast.Tools.Bench;

/// <summary>What a run measured: printed as a table for a person, or as one JSON object (--json) for bench/compare.sh.
/// Rates and CPU are over the measured interval only (after the warm-up); loss and duplicates over the whole run.
/// Null fields did not apply (a message figure in the connections scenario, broker figures without --broker-pid).</summary>
internal sealed class BenchReport
{
    public required string Scenario { get; init; }
    public required string Description { get; init; }
    public required string Broker { get; init; }
    public required string Version { get; init; }
    public int? Qos { get; init; }
    public int? PayloadBytes { get; init; }
    public int? Publishers { get; init; }
    public int? Subscribers { get; init; }
    /// <summary>Messages in flight per publisher (end to end), and the part of it the broker may leave unacknowledged.</summary>
    public int? Window { get; init; }
    public int? AckWindow { get; init; }
    public double? RateLimit { get; init; }
    public double WarmupS { get; init; }
    public double DurationS { get; init; }

    public long? Published { get; init; }
    public double? PublishedPerS { get; init; }
    public double? AckedPerS { get; init; }
    public long? Delivered { get; init; }
    public double? DeliveredPerS { get; init; }
    public long? LatencySamples { get; init; }
    /// <summary>What latency is measured from: the send time, or with --rate the scheduled send time (so that a message
    /// held back by a stalled broker counts its wait).</summary>
    public string? LatencyFrom { get; init; }
    public double? LatencyP50Ms { get; init; }
    public double? LatencyP99Ms { get; init; }
    public double? LatencyMaxMs { get; init; }
    /// <summary>QoS 1/2: acknowledged by the broker, never received by a subscriber that should have it.</summary>
    public long? Lost { get; init; }
    public long? Duplicates { get; init; }
    /// <summary>QoS 1/2 publishes the broker refused with an error reason code (not counted as sent).</summary>
    public long? Refused { get; init; }
    /// <summary>QoS 1/2 publishes whose flow never completed.</summary>
    public long? Unacknowledged { get; init; }
    /// <summary>QoS 0: sent, never received (allowed at QoS 0).</summary>
    public long? DroppedQos0 { get; init; }
    /// <summary>Times a publisher stopped waiting for messages the broker took but did not deliver within 2 s (a warning).</summary>
    public long? Stalls { get; init; }

    public int? ConnectionsRequested { get; init; }
    public int? ConnectionsOpen { get; init; }
    public int? ConnectionsFailed { get; init; }
    public double? ConnectsPerS { get; init; }
    /// <summary>Connections open when the baseline RSS was read (the warm-up batch).</summary>
    public int? BaselineConnections { get; init; }
    public long? BrokerRssBaselineKib { get; init; }
    public double? KibPerConnection { get; init; }

    public double GeneratorCpuS { get; init; }
    public double GeneratorCpuPercent { get; init; }
    public double GeneratorCpuPercentOfAllCores { get; init; }
    public int Cores { get; init; } = Environment.ProcessorCount;
    public int? BrokerPid { get; init; }
    public double? BrokerCpuS { get; init; }
    public double? BrokerCpuPercent { get; init; }
    public long? BrokerRssKib { get; init; }
    public long? BrokerPeakRssKib { get; init; }
    public List<string> Warnings { get; init; } = [];

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public string ToTable()
    {
        var c = CultureInfo.InvariantCulture;
        var t = new StringBuilder();
        t.AppendLine(c, $"holdfast bench {Scenario}: {Description}");
        string settings = Qos is { } q
            ? $"{Version}, QoS {q}, {PayloadBytes}-byte payload, window {Window} (broker may hold {AckWindow} unacknowledged), rate {(RateLimit is > 0 ? $"{RateLimit:N0} msg/s" : "unlimited")}"
            : Version;
        string interval = ConnectionsRequested is null
            ? string.Create(c, $"measured {DurationS:0.0} s after {WarmupS:0.0} s warm-up")
            : string.Create(c, $"{DurationS:0.0} s from the first connect to the end of the hold");
        t.AppendLine(c, $"{settings}; {Broker}; {interval}");
        t.AppendLine();
        if (Delivered is not null)
        {
            Line(t, "delivered", $"{DeliveredPerS:N0} msg/s   ({Delivered:N0} messages)");
            Line(t, "published", $"{PublishedPerS:N0} msg/s" + (Qos > 0 ? $"   acknowledged {AckedPerS:N0} msg/s" : ""));
            Line(t, "latency", $"p50 {LatencyP50Ms:0.000} ms   p99 {LatencyP99Ms:0.000} ms   max {LatencyMaxMs:0.000} ms   ({LatencySamples:N0} samples, latency from the {LatencyFrom} to receive)");
            Line(t, "integrity", Qos > 0
                ? $"lost {Lost}   duplicates {Duplicates}   refused {Refused}   unacknowledged {Unacknowledged}   stalls {Stalls}"
                : $"dropped {DroppedQos0} (allowed at QoS 0)   duplicates {Duplicates}   stalls {Stalls}");
        }
        if (ConnectionsRequested is not null)
        {
            Line(t, "connections", $"{ConnectionsOpen:N0} open of {ConnectionsRequested:N0}   ({ConnectionsFailed} failed, {ConnectsPerS:N0} connects/s)");
            if (KibPerConnection is not null)
                Line(t, "broker memory", $"{KibPerConnection:N1} KiB per connection   (RSS {BrokerRssBaselineKib:N0} KiB with {BaselineConnections:N0} -> {BrokerRssKib:N0} KiB with {ConnectionsOpen:N0})");
        }
        Line(t, "generator CPU", $"{GeneratorCpuS:0.00} s   ({GeneratorCpuPercent:0}% of one core, {GeneratorCpuPercentOfAllCores:0}% of all {Cores} cores)");
        if (BrokerPid is not null)
            Line(t, "broker CPU", $"{BrokerCpuS:0.00} s   ({BrokerCpuPercent:0}% of one core)   RSS {BrokerRssKib:N0} KiB, peak {BrokerPeakRssKib:N0} KiB   (pid {BrokerPid})");
        foreach (var warning in Warnings) t.AppendLine(c, $"warning: {warning}");
        return t.ToString();
    }

    private static void Line(StringBuilder t, string name, string value) => t.AppendLine(CultureInfo.InvariantCulture, $"  {name,-15} {value}");
}
