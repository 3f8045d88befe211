using Holdfast.Client;
using Holdfast.Protocol;

namespace Holdfast.Tools.Check;

/// <summary>
/// What every publisher was told and what every subscriber's application received, and what that proves. Thread-safe:
/// publishers and subscribers record from their own tasks.
/// <para>A <em>stream</em> is the messages of one publisher as one subscriber receives them. A <em>delivery</em> is a
/// PUBLISH the subscriber passes to its application: every QoS 0/1 PUBLISH, and a QoS 2 PUBLISH whose packet id the
/// subscriber does not already hold (see <see cref="CheckSubscriber"/>).</para>
/// </summary>
internal sealed class CheckLedger
{
    /// <summary>How many lost ranges and unexpected messages the report lists (the counts are always complete).</summary>
    public const int SampleLimit = 20;

    private readonly Lock _gate = new();
    private readonly string _runId;
    private readonly QualityOfService[] _qos;
    private readonly string[] _subscriberNames;
    private readonly PublisherRecord[] _publishers;
    private readonly StreamRecord[,] _streams;
    private readonly List<string> _sessionsLost = [];
    private readonly List<string> _unexpected = [];
    private long _unexpectedCount;
    /// <summary>Acknowledged QoS 1/2 messages not yet received, summed over all streams: zero means the drain is complete.</summary>
    private long _missing;

    public CheckLedger(string runId, IReadOnlyList<QualityOfService> publisherQoS, IReadOnlyList<string> subscriberNames)
    {
        _runId = runId;
        _qos = [.. publisherQoS];
        _subscriberNames = [.. subscriberNames];
        _publishers = [.. _qos.Select(_ => new PublisherRecord())];
        _streams = new StreamRecord[_subscriberNames.Length, _qos.Length];
        for (int s = 0; s < _subscriberNames.Length; s++)
            for (int p = 0; p < _qos.Length; p++) _streams[s, p] = new StreamRecord();
    }

    public static string TopicOf(string runId, int publisher) => $"holdfast-check/{runId}/p{publisher}";
    public static string TopicFilter(string runId) => $"holdfast-check/{runId}/#";

    /// <summary>A sequence number is about to go out for the first time (recorded first: a subscriber may receive it
    /// before the publisher hears back).</summary>
    public void Published(int publisher, long sequence)
    {
        lock (_gate)
        {
            var record = _publishers[publisher];
            record.Published = Math.Max(record.Published, sequence + 1);
        }
    }

    /// <summary>A QoS 0 message was handed to a live connection. QoS 0 has no acknowledgement: every message sent is
    /// expected, for the informational count.</summary>
    public void SentAtMostOnce(int publisher, long sequence)
    {
        lock (_gate) AddExpected(publisher, sequence);
    }

    /// <summary>The last sequence number <see cref="Published"/> never went out (its connection had ended): the
    /// publisher reuses it for its next message.</summary>
    public void Withdrawn(int publisher, long sequence)
    {
        lock (_gate)
        {
            var record = _publishers[publisher];
            if (record.Published == sequence + 1) record.Published = sequence;
        }
    }

    /// <summary>The broker took ownership: PUBACK (QoS 1) or PUBREC (QoS 2) with a success reason code.</summary>
    public void Acknowledged(int publisher, long sequence)
    {
        lock (_gate) AddExpected(publisher, sequence);
    }

    /// <summary>The broker answered with a reason code of 0x80 or more: it did not take the message.</summary>
    public void Refused(int publisher, ReasonCode reasonCode)
    {
        lock (_gate)
        {
            var refused = _publishers[publisher].Refused;
            refused[reasonCode] = refused.GetValueOrDefault(reasonCode) + 1;
        }
    }

    /// <summary>A reconnect found no stored session (CONNACK session present = 0): the broker discarded a persistent session.</summary>
    public void SessionLost(string clientId, int connection)
    {
        lock (_gate) _sessionsLost.Add($"{clientId}: connection {connection} found no session (CONNACK session present = 0)");
    }

    /// <summary>A subscriber's application received a message.</summary>
    public void Delivered(int subscriber, string topic, ReadOnlySpan<byte> payload)
    {
        var message = CheckPayload.TryDecode(payload);
        lock (_gate)
        {
            if (message is not { } m || m.RunId != _runId || m.Publisher < 0 || m.Publisher >= _qos.Length
                || topic != TopicOf(_runId, m.Publisher) || m.Sequence < 0 || m.Sequence >= _publishers[m.Publisher].Published)
            {
                _unexpectedCount++;
                if (_unexpected.Count < SampleLimit)
                    _unexpected.Add($"{_subscriberNames[subscriber]} received '{Printable(payload)}' on '{topic}'");
                return;
            }
            var stream = _streams[subscriber, m.Publisher];
            if (!stream.Received.Add(m.Sequence))
            {
                stream.Duplicates++;
                return;
            }
            if (m.Sequence < stream.Highest) stream.OutOfOrder++;
            stream.Highest = Math.Max(stream.Highest, m.Sequence);
            if (_qos[m.Publisher] != QualityOfService.AtMostOnce && _publishers[m.Publisher].Expected.Contains(m.Sequence)) _missing--;
            long now = Environment.TickCount64;
            if (stream.LastDeliveryTicks is { } last) stream.LongestGapMs = Math.Max(stream.LongestGapMs, now - last);
            stream.LastDeliveryTicks = now;
            stream.MaxLatencyMs = Math.Max(stream.MaxLatencyMs, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - m.SentUnixMs);
        }
    }

    /// <summary>Acknowledged QoS 1/2 messages not yet received, summed over all streams.</summary>
    public long Missing { get { lock (_gate) return _missing; } }

    /// <summary>Running totals for the progress view (received: distinct messages, summed over subscribers).</summary>
    public (long Published, long Acknowledged, long Received) Totals()
    {
        lock (_gate)
        {
            long published = 0, acknowledged = 0, received = 0;
            for (int p = 0; p < _qos.Length; p++)
            {
                published += _publishers[p].Published;
                if (_qos[p] != QualityOfService.AtMostOnce) acknowledged += _publishers[p].Expected.Count;
                for (int s = 0; s < _subscriberNames.Length; s++) received += _streams[s, p].Received.Count;
            }
            return (published, acknowledged, received);
        }
    }

    private void AddExpected(int publisher, long sequence)
    {
        if (!_publishers[publisher].Expected.Add(sequence) || _qos[publisher] == QualityOfService.AtMostOnce) return;
        for (int s = 0; s < _subscriberNames.Length; s++)
            if (!_streams[s, publisher].Received.Contains(sequence)) _missing++;
    }

    public IReadOnlyList<string> SessionsLost { get { lock (_gate) return [.. _sessionsLost]; } }
    public long UnexpectedCount { get { lock (_gate) return _unexpectedCount; } }
    public IReadOnlyList<string> UnexpectedSamples { get { lock (_gate) return [.. _unexpected]; } }

    /// <summary>The counts for the publishers of one QoS level.</summary>
    public QoSResult Result(QualityOfService qos)
    {
        lock (_gate)
        {
            var result = new QoSResult { QoS = (int)qos };
            for (int p = 0; p < _qos.Length; p++)
            {
                if (_qos[p] != qos) continue;
                var publisher = _publishers[p];
                result.Publishers++;
                result.Published += publisher.Published;
                long refused = publisher.Refused.Values.Sum();
                result.Refused += refused;
                if (qos != QualityOfService.AtMostOnce)
                {
                    result.Acknowledged += publisher.Expected.Count;
                    result.Unacknowledged += publisher.Published - publisher.Expected.Count - refused;
                }
                foreach (var (code, count) in publisher.Refused)
                {
                    string name = MqttClientConnection.Describe(code);
                    result.RefusedBy[name] = result.RefusedBy.GetValueOrDefault(name) + count;
                }
                for (int s = 0; s < _subscriberNames.Length; s++)
                {
                    var stream = _streams[s, p];
                    result.Expected += publisher.Expected.Count;
                    result.Received += stream.Received.Count;
                    result.Duplicates += stream.Duplicates;
                    result.OutOfOrder += stream.OutOfOrder;
                    result.LongestGapMs = Math.Max(result.LongestGapMs, stream.LongestGapMs);
                    result.MaxLatencyMs = Math.Max(result.MaxLatencyMs, stream.MaxLatencyMs);
                    foreach (var (first, last) in MissingRanges(publisher.Expected, stream.Received))
                    {
                        result.Lost += last - first + 1;
                        result.LongestLostRun = Math.Max(result.LongestLostRun, last - first + 1);
                        if (result.LostSamples.Count < SampleLimit)
                            result.LostSamples.Add(new LostRange(_subscriberNames[s], p, first, last));
                    }
                }
            }
            return result;
        }
    }

    /// <summary>Runs of consecutive expected sequence numbers a stream never received.</summary>
    private static IEnumerable<(long First, long Last)> MissingRanges(HashSet<long> expected, HashSet<long> received)
    {
        long? first = null, last = null;
        foreach (long sequence in expected.Where(e => !received.Contains(e)).Order())
        {
            if (last is { } l && sequence == l + 1) { last = sequence; continue; }
            if (first is { } f) yield return (f, last!.Value);
            first = last = sequence;
        }
        if (first is { } f2) yield return (f2, last!.Value);
    }

    private static string Printable(ReadOnlySpan<byte> payload)
    {
        var text = new System.Text.StringBuilder();
        foreach (byte b in payload[..Math.Min(payload.Length, 64)]) text.Append(b is >= 0x20 and < 0x7f ? (char)b : '.');
        return payload.Length > 64 ? text + "..." : text.ToString();
    }

    private sealed class PublisherRecord
    {
        /// <summary>Sequence numbers 0..Published-1 have gone out.</summary>
        public long Published;
        /// <summary>Acknowledged (QoS 1/2) or sent (QoS 0): what every subscriber should receive.</summary>
        public readonly HashSet<long> Expected = [];
        public readonly Dictionary<ReasonCode, long> Refused = [];
    }

    private sealed class StreamRecord
    {
        public readonly HashSet<long> Received = [];
        public long Highest = -1;
        public long Duplicates;
        public long OutOfOrder;
        public long? LastDeliveryTicks;
        public long LongestGapMs;
        public long MaxLatencyMs;
    }
}

/// <summary>Sequence numbers <see cref="First"/>..<see cref="Last"/> of a publisher, acknowledged and never received by a subscriber.</summary>
internal sealed record LostRange(string Subscriber, int Publisher, long First, long Last);

/// <summary>The ledger's counts for one QoS level; stream counts are summed over every (subscriber, publisher) pair.</summary>
internal sealed class QoSResult
{
    [System.Text.Json.Serialization.JsonPropertyName("qos")]
    public int QoS { get; set; }
    public int Publishers { get; set; }
    public long Published { get; set; }
    public long Acknowledged { get; set; }
    public long Refused { get; set; }
    public Dictionary<string, long> RefusedBy { get; } = [];
    public long Unacknowledged { get; set; }
    public long Expected { get; set; }
    public long Received { get; set; }
    public long Lost { get; set; }
    public long LongestLostRun { get; set; }
    public long Duplicates { get; set; }
    public long OutOfOrder { get; set; }
    public long LongestGapMs { get; set; }
    public long MaxLatencyMs { get; set; }
    public List<LostRange> LostSamples { get; } = [];
}
