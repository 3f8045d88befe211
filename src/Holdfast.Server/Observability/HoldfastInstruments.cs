using System.Diagnostics;
using System.Diagnostics.Metrics;
using Holdfast.Broker;
using Holdfast.Protocol;

namespace Holdfast.Server.Observability;

/// <summary>
/// The broker's numbers as System.Diagnostics.Metrics instruments on a Meter named "Holdfast": observable counters
/// and gauges read <see cref="BrokerMetrics"/> and <see cref="MqttBroker.Status"/> when collected; histograms record
/// each durable-store write. Instrument names are the Prometheus series names, so any exporter can use them as they are.
/// </summary>
internal sealed class HoldfastInstruments : IDisposable
{
    public const string MeterName = "Holdfast";

    /// <summary>A scrape collects every gauge at once: they share one status snapshot (one walk of the sessions)
    /// if it is younger than this.</summary>
    private static readonly TimeSpan StatusMaxAge = TimeSpan.FromMilliseconds(500);

    private readonly MqttBroker _broker;
    private readonly Histogram<long> _commitBatchSize;
    private readonly Histogram<double> _commitSeconds;
    private readonly Lock _statusLock = new();
    private BrokerStatus _status;
    private long _statusTakenAt;
    private SessionRanking? _ranking;
    private long _rankingTakenAt;

    /// <summary>Sessions named in the per-session series: few enough to keep the series count bounded.</summary>
    public const int TopCount = 10;

    public HoldfastInstruments(MqttBroker broker, string version)
    {
        _broker = broker;
        Meter = new Meter(MeterName, version);
        var m = broker.Metrics;

        Meter.CreateObservableGauge("holdfast_connections", () => Status().ClientsConnected, description: "Clients connected now.");
        Meter.CreateObservableGauge("holdfast_sessions", () => Status().ClientsTotal, description: "Sessions, connected or not.");
        Meter.CreateObservableCounter("holdfast_messages_received_total", () => ByQoS(m.PublishReceived),
            description: "PUBLISH messages accepted from clients, by QoS.");
        Meter.CreateObservableCounter("holdfast_messages_sent_total", () => ByQoS(m.PublishSent),
            description: "PUBLISH messages sent to clients (resends included, $SYS not), by QoS.");
        Meter.CreateObservableCounter("holdfast_messages_dropped_total", DroppedByCause,
            description: "Messages the broker did not deliver, by cause.");
        Meter.CreateObservableCounter("holdfast_publishes_rejected_total", () => m.PublishesRejected,
            description: "MQTT 5 publishes refused with 0x97 Quota exceeded because a subscriber queue was full.");
        Meter.CreateObservableGauge("holdfast_inflight_messages", () => Status().InflightMessages,
            description: "QoS 1/2 messages sent and not yet acknowledged, over all sessions.");
        Meter.CreateObservableGauge("holdfast_queued_messages", () => Status().QueuedMessages,
            description: "Messages waiting behind the inflight window, over all sessions.");
        Meter.CreateObservableGauge("holdfast_retained_messages", () => Status().RetainedMessages, description: "Retained messages.");
        Meter.CreateObservableGauge("holdfast_subscriptions", () => Status().Subscriptions, description: "Subscriptions.");
        Meter.CreateObservableCounter("holdfast_ack_timeouts_total", () => m.AckTimeouts,
            description: "Times a client's oldest inflight message waited past ack_timeout.");
        Meter.CreateObservableGauge("holdfast_clients_past_ack_timeout", () => Status().ClientsPastAckTimeout,
            description: "Connected clients whose oldest inflight message is waiting past ack_timeout now.");
        Meter.CreateObservableCounter("holdfast_bytes_received_total", () => m.BytesReceived, "By",
            "Bytes read from client connections.");
        Meter.CreateObservableCounter("holdfast_bytes_sent_total", () => m.BytesSent, "By",
            "Bytes written to client connections.");
        Meter.CreateObservableCounter("holdfast_connections_total", () => m.ClientsConnected, description: "CONNECTs accepted.");
        Meter.CreateObservableGauge("holdfast_queued_bytes", () => Status().QueuedBytes, "By",
            description: "Payload bytes queued over all sessions, in memory and on disk (what max_queued_bytes_total bounds).");
        Meter.CreateObservableCounter("holdfast_sessions_ended_queue_full_total", () => m.SessionsEndedQueueFull,
            description: "Offline sessions ended because their queue was full (queue_full_policy end_session).");
        Meter.CreateObservableGauge("holdfast_session_queued_messages", () => PerSession(r => r.ByQueued, s => s.Queued),
            description: $"Messages queued for the {TopCount} sessions with the deepest queues, by client id.");
        Meter.CreateObservableGauge("holdfast_session_queued_bytes", () => PerSession(r => r.ByQueued, s => s.QueuedBytes), "By",
            description: $"Payload bytes queued for the {TopCount} sessions with the deepest queues, by client id.");
        Meter.CreateObservableGauge("holdfast_session_oldest_unacknowledged_seconds",
            () => PerSession(r => r.ByOldestUnacknowledged, s => s.OldestUnacknowledgedMs / 1000.0), "s",
            description: $"How long the oldest unacknowledged message has waited, for the {TopCount} sessions waiting longest, by client id.");

        _commitBatchSize = Meter.CreateHistogram("holdfast_store_commit_batch_size", null,
            "Changes written by one group-commit write of the durable store.", null,
            new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] });
        _commitSeconds = Meter.CreateHistogram("holdfast_store_commit_seconds", "s",
            "Duration of one group-commit write of the durable store (fsync included with durability sync).", null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
    }

    public Meter Meter { get; }

    /// <summary>Called by the store's writer after each successful write.</summary>
    public void RecordCommit(int changes, TimeSpan elapsed)
    {
        _commitBatchSize.Record(changes);
        _commitSeconds.Record(elapsed.TotalSeconds);
    }

    private BrokerStatus Status()
    {
        lock (_statusLock)
        {
            if (_statusTakenAt == 0 || Stopwatch.GetElapsedTime(_statusTakenAt) > StatusMaxAge)
            {
                _status = _broker.Status();
                _statusTakenAt = Stopwatch.GetTimestamp();
            }
            return _status;
        }
    }

    private SessionRanking Ranking()
    {
        lock (_statusLock)
        {
            if (_ranking is null || Stopwatch.GetElapsedTime(_rankingTakenAt) > StatusMaxAge)
            {
                _ranking = _broker.TopSessions(TopCount);
                _rankingTakenAt = Stopwatch.GetTimestamp();
            }
            return _ranking;
        }
    }

    private IEnumerable<Measurement<T>> PerSession<T>(Func<SessionRanking, IReadOnlyList<SessionSummary>> list, Func<SessionSummary, T> value)
        where T : struct =>
        list(Ranking()).Select(s => new Measurement<T>(value(s), new KeyValuePair<string, object?>("client_id", s.ClientId),
            new KeyValuePair<string, object?>("state", s.Connected ? "connected" : "offline")));

    private static IEnumerable<Measurement<long>> ByQoS(Func<QualityOfService, long> read) =>
        [
            new(read(QualityOfService.AtMostOnce), new KeyValuePair<string, object?>("qos", "0")),
            new(read(QualityOfService.AtLeastOnce), new KeyValuePair<string, object?>("qos", "1")),
            new(read(QualityOfService.ExactlyOnce), new KeyValuePair<string, object?>("qos", "2")),
        ];

    private IEnumerable<Measurement<long>> DroppedByCause() =>
        Enum.GetValues<DropCause>().Select(cause =>
            new Measurement<long>(_broker.Metrics.Dropped(cause), new KeyValuePair<string, object?>("cause", DropCauseName.Of(cause))));

    public void Dispose() => Meter.Dispose();
}
