using System.Diagnostics;
using System.Globalization;
using Holdfast.Broker;

namespace Holdfast.Server.Observability;

/// <summary>
/// The $SYS tree (sys_interval): every interval, gathers the broker's, the store's and the process's numbers and
/// publishes each topic, retained, only when its value changed since it was last published (as Mosquitto does).
/// Names and payloads are Mosquitto's (man mosquitto, BROKER STATUS); Holdfast's own figures are under
/// $SYS/broker/holdfast/.
/// </summary>
internal sealed class SysTopics : IDisposable
{
    private const string Root = "$SYS/broker/";

    private readonly MqttBroker _broker;
    private readonly TimeSpan _interval;
    private readonly string _version;
    private readonly StoreCommitStats? _commits;
    private readonly IBrokerLog _log;
    private readonly Stopwatch _uptime = Stopwatch.StartNew();
    private readonly Dictionary<string, string> _published = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LoadAverage> _loads = new(StringComparer.Ordinal);
    private Timer? _timer;
    private int _publishing;
    private TimeSpan _lastUpdate;
    private long _clientsMaximum, _heapMaximum;

    public SysTopics(MqttBroker broker, TimeSpan interval, string version, StoreCommitStats? commits, IBrokerLog log)
    {
        _broker = broker;
        _interval = interval;
        _version = version;
        _commits = commits;
        _log = log;
    }

    /// <summary>Publishes the tree now, then every interval.</summary>
    public void Start() => _timer = new Timer(_ => Update(), null, TimeSpan.Zero, _interval);

    private void Update()
    {
        if (Interlocked.Exchange(ref _publishing, 1) == 1) return;
        try
        {
            Publish();
        }
        catch (Exception e)
        {
            _log.Error($"$SYS update failed: {e}");
        }
        finally
        {
            Volatile.Write(ref _publishing, 0);
        }
    }

    private void Publish()
    {
        var metrics = _broker.Metrics;
        var status = _broker.Status();
        var now = _uptime.Elapsed;

        Set("version", $"holdfast version {_version}");
        Set("uptime", $"{(long)now.TotalSeconds} seconds");

        _clientsMaximum = Math.Max(_clientsMaximum, status.ClientsTotal);
        Set("clients/total", status.ClientsTotal);
        Set("clients/connected", status.ClientsConnected);
        Set("clients/disconnected", status.ClientsTotal - status.ClientsConnected);
        // Mosquitto's older names for the same two numbers, still published by 2.0.
        Set("clients/active", status.ClientsConnected);
        Set("clients/inactive", status.ClientsTotal - status.ClientsConnected);
        Set("clients/maximum", _clientsMaximum);
        Set("clients/expired", metrics.SessionsExpired);

        long stored = status.InflightMessages + status.QueuedMessages + status.RetainedMessages;
        Set("messages/stored", stored);
        Set("messages/received", metrics.PacketsReceived);
        Set("messages/sent", metrics.PacketsSent);
        Set("store/messages/count", stored);
        Set("store/messages/bytes", status.HeldBytes + status.RetainedBytes);
        Set("subscriptions/count", status.Subscriptions);
        Set("shared_subscriptions/count", status.SharedSubscriptions);
        Set("retained messages/count", status.RetainedMessages);

        // The managed heap: what the broker's own objects (sessions, messages, buffers) occupy.
        long heap = GC.GetTotalMemory(forceFullCollection: false);
        _heapMaximum = Math.Max(_heapMaximum, heap);
        Set("heap/current", heap);
        Set("heap/maximum", _heapMaximum);

        Set("publish/messages/received", metrics.MessagesReceived);
        Set("publish/messages/sent", metrics.MessagesSent);
        Set("publish/messages/dropped", metrics.DroppedTotal);
        Set("publish/bytes/received", metrics.PublishBytesReceived);
        Set("publish/bytes/sent", metrics.PublishBytesSent);
        Set("bytes/received", metrics.BytesReceived);
        Set("bytes/sent", metrics.BytesSent);

        double seconds = (now - _lastUpdate).TotalSeconds;
        _lastUpdate = now;
        SetLoad("messages/received", metrics.PacketsReceived, seconds);
        SetLoad("messages/sent", metrics.PacketsSent, seconds);
        SetLoad("publish/received", metrics.MessagesReceived, seconds);
        SetLoad("publish/sent", metrics.MessagesSent, seconds);
        SetLoad("publish/dropped", metrics.DroppedTotal, seconds);
        SetLoad("bytes/received", metrics.BytesReceived, seconds);
        SetLoad("bytes/sent", metrics.BytesSent, seconds);
        SetLoad("sockets", metrics.SocketsOpened, seconds);
        SetLoad("connections", metrics.ClientsConnected, seconds);

        // Holdfast's own: what DESIGN.md promises to make visible.
        Set("holdfast/messages/inflight", status.InflightMessages);
        Set("holdfast/messages/queued", status.QueuedMessages);
        Set("holdfast/ack_timeouts", metrics.AckTimeouts);
        Set("holdfast/clients/past_ack_timeout", status.ClientsPastAckTimeout);
        Set("holdfast/publish/rejected", metrics.PublishesRejected);
        Set("holdfast/messages/queued_bytes", status.QueuedBytes);
        Set("holdfast/sessions/ended_queue_full", metrics.SessionsEndedQueueFull);
        var top = _broker.TopSessions(HoldfastInstruments.TopCount);
        Set("holdfast/sessions/top_queued", SessionListJson(top.ByQueued));
        Set("holdfast/sessions/top_unacknowledged", SessionListJson(top.ByOldestUnacknowledged));
        foreach (var cause in Enum.GetValues<DropCause>())
            Set($"holdfast/dropped/{DropCauseName.Of(cause)}", metrics.Dropped(cause));
        if (_commits is not null)
        {
            var commits = _commits.TakeInterval();
            Set("holdfast/store/commits", commits.Writes);
            Set("holdfast/store/commit/p50_ms", Decimal(commits.MedianMilliseconds, "0.###"));
            Set("holdfast/store/commit/max_ms", Decimal(commits.MaxMilliseconds, "0.###"));
            Set("holdfast/store/commit/batch_size/mean", Decimal(commits.MeanBatch, "0.##"));
            Set("holdfast/store/commit/batch_size/max", commits.MaxBatch);
        }
    }

    private void SetLoad(string name, long counter, double seconds)
    {
        if (!_loads.TryGetValue(name, out var load)) _loads[name] = load = new LoadAverage();
        // The first round has no interval behind it: Mosquitto publishes 0.00 then too.
        if (seconds > 0) load.Update(counter, seconds);
        Set($"load/{name}/1min", Decimal(load.OneMinute, "0.00"));
        Set($"load/{name}/5min", Decimal(load.FiveMinutes, "0.00"));
        Set($"load/{name}/15min", Decimal(load.FifteenMinutes, "0.00"));
    }

    /// <summary>A ranked list as a JSON array, largest first: who is holding what, for a dashboard or `mosquitto_sub`.</summary>
    private static string SessionListJson(IReadOnlyList<SessionSummary> sessions)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var s in sessions)
            {
                json.WriteStartObject();
                json.WriteString("client_id", s.ClientId);
                json.WriteBoolean("connected", s.Connected);
                json.WriteNumber("offline_seconds", s.OfflineForMs / 1000);
                json.WriteNumber("queued", s.Queued);
                json.WriteNumber("queued_bytes", s.QueuedBytes);
                json.WriteNumber("inflight", s.Inflight);
                json.WriteNumber("oldest_unacknowledged_seconds", s.OldestUnacknowledgedMs / 1000.0);
                json.WriteNumber("dropped", s.Dropped);
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string Decimal(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);

    private void Set(string name, long value) => Set(name, value.ToString(CultureInfo.InvariantCulture));

    private void Set(string name, string value)
    {
        string topic = Root + name;
        if (_published.TryGetValue(topic, out var last) && last == value) return;
        _published[topic] = value;
        _broker.PublishBrokerStatus(topic, value);
    }

    public void Dispose() => _timer?.Dispose();
}
