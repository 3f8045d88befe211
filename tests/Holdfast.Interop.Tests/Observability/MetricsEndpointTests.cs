using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using static Holdfast.Interop.Tests.DebianPeers.Mosquitto;

namespace Holdfast.Interop.Tests.Observability;

/// <summary>metrics_listener: GET /metrics in Prometheus text format, its series moving with MQTT traffic.</summary>
public sealed class MetricsEndpointTests
{
    private static Task<TestBroker> StartAsync(string config = "") =>
        TestBroker.StartAsync(config, adjust: c => c.MetricsListener = new() { Port = 0 });

    [Fact]
    public async Task Metrics_are_valid_exposition_and_count_each_message_by_qos()
    {
        await using var broker = await StartAsync();
        await using var sub = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, Unique("sub"));
        await sub.SubscribeAsync("m/t", MqttQualityOfServiceLevel.ExactlyOnce);
        await using var pub = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V311, Unique("pub"));

        var before = await MetricsScrape.GetAsync(broker.Server);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", before.ContentType);
        Assert.Equal(0, before.Value("holdfast_messages_received_total{qos=\"1\"}"));

        for (int i = 0; i < 2; i++) await pub.PublishAsync("m/t", "zero", MqttQualityOfServiceLevel.AtMostOnce);
        for (int i = 0; i < 3; i++) await pub.PublishAsync("m/t", "one", MqttQualityOfServiceLevel.AtLeastOnce);
        await pub.PublishAsync("m/t", "two", MqttQualityOfServiceLevel.ExactlyOnce);
        await sub.ReceiveAsync(6);

        var after = await MetricsScrape.GetAsync(broker.Server);
        foreach (var (qos, count) in new[] { ("0", 2), ("1", 3), ("2", 1) })
        {
            Assert.Equal(count, after.Value($"holdfast_messages_received_total{{qos=\"{qos}\"}}"));
            Assert.Equal(count, after.Value($"holdfast_messages_sent_total{{qos=\"{qos}\"}}"));
        }
        Assert.Equal(2, after.Value("holdfast_connections"));
        Assert.Equal(2, after.Value("holdfast_connections_total"));
        Assert.True(after.Value("holdfast_bytes_received_total") > before.Value("holdfast_bytes_received_total"));
        Assert.True(after.Value("holdfast_bytes_sent_total") > before.Value("holdfast_bytes_sent_total"));
        Assert.Equal(0, after.Value("holdfast_messages_dropped_total{cause=\"queue_full\"}"));

        foreach (var (name, type) in new[]
        {
            ("holdfast_connections", "gauge"), ("holdfast_messages_received_total", "counter"), ("holdfast_messages_sent_total", "counter"),
            ("holdfast_messages_dropped_total", "counter"), ("holdfast_inflight_messages", "gauge"), ("holdfast_queued_messages", "gauge"),
            ("holdfast_ack_timeouts_total", "counter"), ("holdfast_store_commit_batch_size", "histogram"),
            ("holdfast_store_commit_seconds", "histogram"), ("holdfast_bytes_received_total", "counter"), ("holdfast_bytes_sent_total", "counter"),
        })
        {
            Assert.Equal(type, after.Types[name]);
            Assert.Contains(name, after.Helped);
        }
        // Persistence is off here: the store histograms exist, empty, with every part of a histogram.
        foreach (var histogram in new[] { "holdfast_store_commit_batch_size", "holdfast_store_commit_seconds" })
        {
            Assert.Equal(0, after.Value($"{histogram}_bucket{{le=\"+Inf\"}}"));
            Assert.Equal(0, after.Value($"{histogram}_sum"));
            Assert.Equal(0, after.Value($"{histogram}_count"));
        }
    }

    [Fact]
    public async Task Inflight_and_queued_gauges_follow_a_subscriber_that_does_not_acknowledge()
    {
        await using var broker = await StartAsync("max_inflight_messages 1");
        await using var sub = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, Unique("slow"), manualAck: true);
        await sub.SubscribeAsync("s/t", MqttQualityOfServiceLevel.AtLeastOnce);
        await using var pub = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, Unique("pub"));
        for (int i = 0; i < 3; i++) await pub.PublishAsync("s/t", $"m{i}", MqttQualityOfServiceLevel.AtLeastOnce);
        var first = await sub.ReceiveAsync();

        // One message inflight (unacknowledged), two queued behind the window of one.
        await UntilSampleAsync(broker, s => s.Value("holdfast_inflight_messages") == 1 && s.Value("holdfast_queued_messages") == 2, "1 inflight, 2 queued");
        await first.AckAsync();
        await sub.ReceiveAsync();
        await UntilSampleAsync(broker, s => s.Value("holdfast_inflight_messages") == 1 && s.Value("holdfast_queued_messages") == 1, "1 inflight, 1 queued");
    }

    [Fact]
    public async Task Store_commit_histograms_move_with_persistence_on()
    {
        string data = Directory.CreateTempSubdirectory("holdfast-metrics-").FullName;
        try
        {
            await using var broker = await StartAsync($"persistence true\npersistence_location {data}");
            await using var sub = await MqttNetPeer.ConnectPersistentAsync(broker.Port, MqttProtocolVersion.V500, Unique("keep"));
            await sub.SubscribeAsync("p/t", MqttQualityOfServiceLevel.AtLeastOnce);
            await using var pub = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, Unique("pub"));
            for (int i = 0; i < 5; i++) await pub.PublishAsync("p/t", $"m{i}", MqttQualityOfServiceLevel.AtLeastOnce);
            await sub.ReceiveAsync(5);

            var scrape = await MetricsScrape.GetAsync(broker.Server);
            double writes = scrape.Value("holdfast_store_commit_seconds_count");
            Assert.True(writes > 0, scrape.Text);
            Assert.Equal(writes, scrape.Value("holdfast_store_commit_seconds_bucket{le=\"+Inf\"}"));
            Assert.True(scrape.Value("holdfast_store_commit_seconds_sum") > 0);
            Assert.Equal(writes, scrape.Value("holdfast_store_commit_batch_size_count"));
            // Each write holds at least one change: the session, the subscription, five messages queued and acknowledged.
            Assert.True(scrape.Value("holdfast_store_commit_batch_size_sum") >= writes);
            // Buckets are cumulative.
            var buckets = scrape.Samples.Where(s => s.Key.StartsWith("holdfast_store_commit_seconds_bucket", StringComparison.Ordinal)).Select(s => s.Value).ToList();
            Assert.Equal(buckets.Order(), buckets);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task The_metrics_port_serves_only_GET_metrics_and_is_off_unless_configured()
    {
        await using var broker = await StartAsync();
        using var http = new HttpClient();
        var endpoint = broker.Server.MetricsEndpoint!;
        Assert.Equal("127.0.0.1", endpoint.Address.ToString());
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync($"http://{endpoint}/other")).StatusCode);
        var post = await http.PostAsync($"http://{endpoint}/metrics", new StringContent(""));
        Assert.Equal(System.Net.HttpStatusCode.MethodNotAllowed, post.StatusCode);
        await broker.Log.WaitForAsync($"Opening metrics listen socket on http://{endpoint}/metrics.");

        await using var plain = await TestBroker.StartAsync();
        Assert.Null(plain.Server.MetricsEndpoint);
    }

    private static Task UntilSampleAsync(TestBroker broker, Func<MetricsScrape, bool> condition, string what) =>
        Waits.UntilAsync(() => condition(MetricsScrape.GetAsync(broker.Server).GetAwaiter().GetResult()), what);
}
