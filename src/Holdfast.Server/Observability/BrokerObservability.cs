using System.Net;
using Holdfast.Broker;
using Holdfast.Server.Configuration;
using Holdfast.Storage.RocksDb;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Holdfast.Server.Observability;

/// <summary>Wires what makes the broker observable: the instruments on the "Holdfast" Meter, the $SYS tree
/// (sys_interval) and the /metrics endpoint (metrics_listener), fed by the broker and the durable store.</summary>
internal sealed class BrokerObservability : IDisposable
{
    private readonly IBrokerLog _log;
    private readonly HoldfastInstruments _instruments;
    private readonly SysTopics? _sys;
    private readonly PrometheusExposition? _exposition;
    private readonly MetricsEndpoint? _metrics;

    public BrokerObservability(HoldfastConfig config, MqttBroker broker, RocksDbStore? store, string version, IBrokerLog log)
    {
        _log = log;
        _instruments = new HoldfastInstruments(broker, version);
        // The $SYS interval figures are kept only when $SYS is published; the Meter's histograms cost nothing unobserved.
        var commits = store is not null && config.SysInterval > 0 ? new StoreCommitStats() : null;
        if (store is not null)
            store.Committed = (changes, elapsed) =>
            {
                _instruments.RecordCommit(changes, elapsed);
                commits?.Record(changes, elapsed);
            };
        if (config.SysInterval > 0)
            _sys = new SysTopics(broker, TimeSpan.FromSeconds(config.SysInterval), version, commits, log);
        if (config.MetricsListener is { } listener)
        {
            _exposition = new PrometheusExposition(_instruments.Meter);
            _metrics = new MetricsEndpoint(listener, _exposition);
        }
    }

    /// <summary>Where /metrics is served, once started; null when metrics_listener is not set.</summary>
    public IPEndPoint? MetricsEndpoint => _metrics?.Endpoint;

    public void Listen(KestrelServerOptions kestrel) => _metrics?.Listen(kestrel);

    public void Map(IApplicationBuilder app) => _metrics?.Map(app);

    /// <summary>After the listeners are open: publishes $SYS at once and then every sys_interval.</summary>
    public void Start()
    {
        if (_metrics?.Endpoint is { } endpoint)
            _log.Notice($"Opening metrics listen socket on http://{endpoint}/metrics.");
        _sys?.Start();
    }

    /// <summary>No more $SYS rounds: the broker is shutting down (a round already running finds it so and publishes nothing).</summary>
    public void StopSysTopics() => _sys?.Dispose();

    public void Dispose()
    {
        _sys?.Dispose();
        _exposition?.Dispose();
        _instruments.Dispose();
    }
}
