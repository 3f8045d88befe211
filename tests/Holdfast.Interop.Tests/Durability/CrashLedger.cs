using System.Text;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.Durability;

/// <summary>
/// What one crash-test publisher sent and what it was told. A sequence number is used once: a publish that failed is
/// never resent, the next publish takes the next number (see <see cref="CrashTests"/> for why).
/// </summary>
public sealed class PublisherLedger(string name, string topic, MqttQualityOfServiceLevel qos, MqttProtocolVersion version)
{
    private readonly Lock _gate = new();
    private readonly List<int> _acknowledged = [];
    private readonly List<int> _inDoubt = [];
    private readonly List<(int Sequence, string Reason)> _refused = [];

    public string Name { get; } = name;
    public string Topic { get; } = topic;
    public MqttQualityOfServiceLevel QoS { get; } = qos;
    public MqttProtocolVersion Version { get; } = version;

    /// <summary>Successful CONNACKs received (one per broker incarnation at least).</summary>
    public int Connections { get { lock (_gate) return _connections; } }
    private int _connections;

    public static string Payload(string publisher, int sequence) => $"{publisher}/{sequence}";

    /// <summary>Splits a payload made by <see cref="Payload"/>; null when it is not one.</summary>
    public static (string Publisher, int Sequence)? Parse(string payload)
    {
        int slash = payload.LastIndexOf('/');
        if (slash <= 0 || !int.TryParse(payload.AsSpan(slash + 1), out int sequence)) return null;
        return (payload[..slash], sequence);
    }

    public void Connected() { lock (_gate) _connections++; }

    /// <summary>PublishAsync completed with reason Success (PUBACK, or PUBREC and PUBCOMP): the broker vouched for it.</summary>
    public void Acknowledged(int sequence) { lock (_gate) _acknowledged.Add(sequence); }

    /// <summary>PublishAsync failed (connection lost, broker killed): the broker may or may not have kept the message.</summary>
    public void InDoubt(int sequence, string why)
    {
        lock (_gate)
        {
            _inDoubt.Add(sequence);
            _failures[why] = _failures.GetValueOrDefault(why) + 1;
        }
    }

    private readonly Dictionary<string, int> _failures = [];

    /// <summary>Why publishes failed (exception type and count), for the report.</summary>
    public string Failures { get { lock (_gate) return string.Join(", ", _failures.Select(f => $"{f.Key}×{f.Value}")); } }

    /// <summary>PublishAsync completed with a failure reason code: not acknowledged.</summary>
    public void Refused(int sequence, string reason) { lock (_gate) _refused.Add((sequence, reason)); }

    public int[] AcknowledgedSequences { get { lock (_gate) return [.. _acknowledged]; } }
    public int[] InDoubtSequences { get { lock (_gate) return [.. _inDoubt]; } }
    public (int Sequence, string Reason)[] RefusedSequences { get { lock (_gate) return [.. _refused]; } }
    public int AcknowledgedCount { get { lock (_gate) return _acknowledged.Count; } }
}

/// <summary>One message as the subscriber's application saw it.</summary>
public readonly record struct Delivery(string Publisher, int Sequence, MqttQualityOfServiceLevel QoS, bool Dup, ushort PacketId, int Connection);

/// <summary>
/// What one persistent subscriber received, across all its connections. It also plays the part of the receiver's
/// session state that MQTTnet does not keep: MQTTnet hands every QoS 2 PUBLISH to the application, including a resend
/// (DUP=1) of one whose PUBREL has not arrived yet. A compliant receiver holds the packet id of each QoS 2 PUBLISH it
/// accepted until the PUBREL for that id, across reconnects of a persistent session [MQTT-4.3.3-3 (v5: -9..-11)], and
/// treats a PUBLISH with a held id as the same message; this ledger does the same (PUBREL is seen by MQTTnet's packet
/// inspector), so a QoS 2 duplicate counted here is one a compliant client would have passed on.
/// </summary>
public sealed class SubscriberLedger(string clientId, MqttProtocolVersion version)
{
    private readonly Lock _gate = new();
    private readonly List<Delivery> _deliveries = [];
    private readonly Dictionary<ushort, string> _heldQoS2 = [];
    private readonly List<string> _violations = [];
    private readonly Dictionary<string, HashSet<int>> _seen = [];
    private int _connection;
    private int _discardedQoS2Resends;

    public string ClientId { get; } = clientId;
    public MqttProtocolVersion Version { get; } = version;

    public int Connections { get { lock (_gate) return _connection; } }
    public int DiscardedQoS2Resends { get { lock (_gate) return _discardedQoS2Resends; } }
    public Delivery[] Deliveries { get { lock (_gate) return [.. _deliveries]; } }
    public string[] Violations { get { lock (_gate) return [.. _violations]; } }

    /// <summary>A CONNACK arrived. Every connection after the first must find the stored session (the subscriber never
    /// subscribes again); when it does not, the client drops its own session state too, as the spec requires.</summary>
    public void Connected(bool sessionPresent)
    {
        lock (_gate)
        {
            _connection++;
            if (_connection > 1 && !sessionPresent)
            {
                _violations.Add($"{ClientId}: connection {_connection} found no stored session (CONNACK session present = 0)");
                _heldQoS2.Clear();
            }
        }
    }

    /// <summary>The application handler got a PUBLISH (called from MQTTnet's handler, before MQTTnet sends PUBACK/PUBREC).</summary>
    public void Received(string topic, string payload, MqttQualityOfServiceLevel qos, bool dup, ushort packetId)
    {
        lock (_gate)
        {
            if (PublisherLedger.Parse(payload) is not { } parsed)
            {
                _violations.Add($"{ClientId}: unexpected payload '{payload}' on '{topic}'");
                return;
            }
            if (qos == MqttQualityOfServiceLevel.ExactlyOnce)
            {
                if (_heldQoS2.TryGetValue(packetId, out var held))
                {
                    // A compliant receiver drops this PUBLISH: it still holds the id, waiting for the PUBREL.
                    _discardedQoS2Resends++;
                    if (held != payload)
                        _violations.Add($"{ClientId}: packet id {packetId} reused for '{payload}' while '{held}' still awaited its PUBREL (a compliant receiver drops the new message)");
                    else if (!dup)
                        _violations.Add($"{ClientId}: QoS 2 '{payload}' (m{packetId}) resent without DUP=1");
                    return;
                }
                _heldQoS2[packetId] = payload;
            }
            _deliveries.Add(new Delivery(parsed.Publisher, parsed.Sequence, qos, dup, packetId, _connection));
            if (!_seen.TryGetValue(parsed.Publisher, out var set)) _seen[parsed.Publisher] = set = [];
            set.Add(parsed.Sequence);
        }
    }

    /// <summary>An inbound PUBREL: the QoS 2 flow for <paramref name="packetId"/> is over at the receiver.</summary>
    public void PubRel(ushort packetId)
    {
        lock (_gate)
        {
            _heldQoS2.Remove(packetId);
            _pubRels++;
        }
    }

    /// <summary>PUBRELs seen (for the report: proves the packet inspector feeds the QoS 2 receiver state).</summary>
    public int PubRels { get { lock (_gate) return _pubRels; } }
    private int _pubRels;

    /// <summary>Whether every one of <paramref name="sequences"/> from <paramref name="publisher"/> has been received.</summary>
    public bool HasAll(string publisher, IEnumerable<int> sequences)
    {
        lock (_gate)
        {
            if (!_seen.TryGetValue(publisher, out var set)) return !sequences.Any();
            return sequences.All(set.Contains);
        }
    }

    /// <summary>Reads the packet id of an inbound PUBREL from its raw bytes (MQTTnet's packet inspector); null for any other packet.</summary>
    public static ushort? PubRelPacketId(ReadOnlySpan<byte> packet)
    {
        // Fixed header 0x62 (PUBREL, flags 0010), the Remaining Length (variable byte integer), then the packet id.
        if (packet.Length < 4 || packet[0] != 0x62) return null;
        int i = 1;
        while (i < packet.Length && (packet[i] & 0x80) != 0) i++;
        i++;
        if (i + 2 > packet.Length) return null;
        return (ushort)(packet[i] << 8 | packet[i + 1]);
    }
}

/// <summary>Checks the delivery contract (DESIGN.md §2) over what the publishers were told and the subscribers received.</summary>
public static class CrashVerdict
{
    /// <summary>
    /// Returns every breach, each with enough detail to find it in the broker logs:
    /// (a) a message acknowledged to its publisher and missing at a subscriber;
    /// (b) a QoS 2 message delivered twice (after the compliant-receiver rule of <see cref="SubscriberLedger"/>);
    /// (c) order: per publisher, the first occurrences of sequence numbers at a subscriber increase strictly. A QoS 1
    ///     duplicate may repeat an earlier number (redelivery after a reconnect or restart is allowed), so repeats are
    ///     ignored for QoS 1; a new number lower than one already seen is a reordering;
    /// (d) a message no publisher sent (a number never published, neither acknowledged nor in doubt);
    /// plus the subscriber's own violations (session lost, packet id reused, resend without DUP).
    /// </summary>
    public static List<string> Check(IReadOnlyList<PublisherLedger> publishers, IReadOnlyList<SubscriberLedger> subscribers)
    {
        var breaches = new List<string>();
        foreach (var sub in subscribers)
        {
            breaches.AddRange(sub.Violations);
            var deliveries = sub.Deliveries;
            foreach (var pub in publishers)
            {
                var received = deliveries.Where(d => d.Publisher == pub.Name).ToList();
                var receivedSet = received.Select(d => d.Sequence).ToHashSet();
                var acknowledged = pub.AcknowledgedSequences;

                var missing = acknowledged.Where(s => !receivedSet.Contains(s)).ToList();
                if (missing.Count > 0)
                    breaches.Add($"(a) {sub.ClientId} is missing {missing.Count} of {acknowledged.Length} message(s) acknowledged to {pub.Name} " +
                                 $"(q{(int)pub.QoS}): {Range(missing)}");

                if (pub.QoS == MqttQualityOfServiceLevel.ExactlyOnce)
                {
                    var twice = received.GroupBy(d => d.Sequence).Where(g => g.Count() > 1).ToList();
                    if (twice.Count > 0)
                        breaches.Add($"(b) {sub.ClientId} got {twice.Count} QoS 2 message(s) from {pub.Name} more than once: " +
                                     string.Join("; ", twice.Take(10).Select(g => $"#{g.Key} as " + string.Join(", ", g.Select(Describe)))));
                }

                int highest = 0;
                var seen = new HashSet<int>();
                foreach (var d in received)
                {
                    if (!seen.Add(d.Sequence)) continue;
                    if (d.Sequence < highest)
                    {
                        breaches.Add($"(c) {sub.ClientId} got {pub.Name} #{d.Sequence} ({Describe(d)}) for the first time after #{highest}: out of order");
                        break;
                    }
                    highest = d.Sequence;
                }

                var published = acknowledged.Concat(pub.InDoubtSequences).Concat(pub.RefusedSequences.Select(r => r.Sequence)).ToHashSet();
                var unknown = receivedSet.Where(s => !published.Contains(s)).Order().ToList();
                if (unknown.Count > 0)
                    breaches.Add($"(d) {sub.ClientId} got message(s) {pub.Name} never published: {Range(unknown)}");
            }
            var strangers = deliveries.Select(d => d.Publisher).Distinct().Where(p => publishers.All(pub => pub.Name != p)).ToList();
            if (strangers.Count > 0) breaches.Add($"(d) {sub.ClientId} got messages from unknown publishers {string.Join(", ", strangers)}");
        }
        return breaches;
    }

    private static string Describe(Delivery d) => $"q{(int)d.QoS} d{(d.Dup ? 1 : 0)} m{d.PacketId} on connection {d.Connection}";

    /// <summary>Sequence numbers as compact ranges ("3-7, 12, 15-16"), the first 40 ranges.</summary>
    public static string Range(IEnumerable<int> sequences)
    {
        var sorted = sequences.Order().ToList();
        var parts = new List<string>();
        for (int i = 0; i < sorted.Count;)
        {
            int j = i;
            while (j + 1 < sorted.Count && sorted[j + 1] == sorted[j] + 1) j++;
            parts.Add(i == j ? $"{sorted[i]}" : $"{sorted[i]}-{sorted[j]}");
            i = j + 1;
        }
        var text = new StringBuilder(string.Join(", ", parts.Take(40)));
        if (parts.Count > 40) text.Append($", … ({parts.Count - 40} more ranges)");
        return text.ToString();
    }
}
