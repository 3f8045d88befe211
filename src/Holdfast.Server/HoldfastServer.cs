using System.Net;
using System.Reflection;
using Holdfast.Broker;
using Holdfast.Server.Configuration;
using Holdfast.Server.Security;
using Holdfast.Server.Security.DynamicSecurity;
using Holdfast.Server.Connections;
using Holdfast.Server.Logging;
using Holdfast.Server.Observability;
using Holdfast.Server.Tls;
using Holdfast.Storage.RocksDb;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Holdfast.Server;

/// <summary>
/// Hosts the broker on Kestrel listeners as the config says. Wires the pieces together and nothing more:
/// connections (Connections/), the broker engine (Holdfast.Broker), logging and configuration.
/// </summary>
public sealed partial class HoldfastServer : IAsyncDisposable
{
    private readonly HoldfastConfig _config;
    private readonly IBrokerLog _log;
    private readonly MosquittoLog? _ownedLog;
    private readonly RocksDbStore? _store;
    /// <summary>Mosquitto's <c>user</c>, applied once the listeners are bound; null when there is nothing to drop.</summary>
    private readonly PrivilegeDrop? _privilegeDrop;
    private readonly BrokerObservability _observability;
    private readonly ReadDeadlines _readDeadlines;
    private WebApplication? _app;
    private readonly List<IPEndPoint> _endpoints = [];

    private volatile SecurityFiles _security;
    private readonly DynamicSecurityPlugins _dynamicSecurity;
    /// <summary>Each listener's policy, in listener order.</summary>
    private readonly List<ListenerPolicy> _policies;
    private readonly Dictionary<ListenerConfig, ListenerTls> _tls = [];

    /// <param name="openStoreFile">Opens the data directory's key-value file (default: RocksDB). Tests wrap it to inject faults.</param>
    /// <param name="time">The clock of the broker, its store, the connections' deadlines and the log (tests pass a fake one).</param>
    public HoldfastServer(HoldfastConfig config, IBrokerLog? log = null, Func<string, IStoreFile>? openStoreFile = null, TimeProvider? time = null)
    {
        _config = config;
        config.QueueLimits();
        var clock = time is null ? BrokerClock.System : new BrokerClock(time);
        if (log is null)
        {
            _ownedLog = new MosquittoLog(config.LogTypes, config.LogDestinations, config.LogTimestamp, config.LogTimestampFormat, time);
            log = _ownedLog;
        }
        _log = log;
        _security = SecurityFiles.Load(_config);
        _dynamicSecurity = new DynamicSecurityPlugins(_config, log);
        foreach (var listener in _config.Listeners)
            if (ListenerTls.Load(listener, time) is { } tls) _tls[listener] = tls;
        _log.Notice($"Holdfast version {Version} starting");
        if (config.ConfigFile is { } configFile) _log.Notice($"Config loaded from {configFile}.");
        _privilegeDrop = PrivilegeDropFor(config);
        if (config.Persistence)
        {
            // Opens and reads the data directory: a corrupt or unusable one stops startup (StoreOpenException) rather
            // than run empty and hide what was acknowledged.
            _log.Notice($"Opening data directory {config.DataDirectory} (durability {config.Durability.ToString().ToLowerInvariant()}).");
            var file = (openStoreFile ?? (directory => RocksDbFile.Open(directory, config.Store)))(config.DataDirectory);
            _store = new RocksDbStore(file, config.Durability, log, clock);
            // After the store has made its files: they must all be the user's.
            _privilegeDrop?.HandOver(config.DataDirectory);
        }
        // Made before the broker, which judges the sessions it recovers by the listener each last connected to.
        _policies = [.. _config.Listeners.Select(Policy)];
        try
        {
            Broker = new MqttBroker(config.Broker, log, _store, _policies, clock.Time);
        }
        catch
        {
            _store?.Dispose();
            throw;
        }
        _dynamicSecurity.Attach(Broker);
        _readDeadlines = new ReadDeadlines(Broker.Clock);
        _observability = new BrokerObservability(config, Broker, _store, Version, log);
    }

    public static string Version { get; } =
        typeof(HoldfastServer).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>The engine; the server's own parts use it, embedders see its counters and status below.</summary>
    internal MqttBroker Broker { get; }

    /// <summary>What the broker has counted since it started (messages, drops by cause, ack timeouts...).</summary>
    public BrokerMetrics Metrics => Broker.Metrics;

    /// <summary>What the broker holds now (clients, sessions, inflight and queued messages, retained messages).</summary>
    public BrokerStatus Status() => Broker.Status();

    /// <summary>The bound endpoints, in listener order (the actual port when a listener asked for port 0).</summary>
    public IReadOnlyList<IPEndPoint> Endpoints => _endpoints;

    /// <summary>Where GET /metrics is served (metrics_listener), once started; null when off.</summary>
    public IPEndPoint? MetricsEndpoint => _observability.MetricsEndpoint;

    public async Task StartAsync(CancellationToken cancellation = default)
    {
        if (!_config.Persistence)
            _log.Notice("Persistence off (persistence false): sessions and messages do not survive a restart.");
        foreach (string note in _config.NoEffect) _log.Info(note);
        foreach (var tls in _tls.Values)
        {
            foreach (string note in tls.Notes) _log.Info(note);
            foreach (string warning in tls.Warnings) _log.Warning(warning);
        }
        if (_config.Broker.PersistentClientExpiration is null)
        {
            var b = _config.Broker;
            if (b.MaxQueuedMessages == 0 && b.MaxQueuedBytes == 0)
                _log.Warning("Persistent sessions never expire and their queues have no limit (max_queued_messages 0, max_queued_bytes 0): "
                    + "a client that never returns keeps everything sent to it. Set persistent_client_expiration (e.g. 14d) or a queue limit.");
            else if (b.QueueFullPolicy == QueueFullPolicy.Block)
                _log.Warning("Persistent sessions never expire and queue_full_policy is block: a client that never returns will hold back "
                    + "everyone publishing to its topics once its queue is full. Set persistent_client_expiration (e.g. 14d) or use end_session.");
        }
        if (_config.User is { } user and not "root" && _privilegeDrop is null)
            _log.Info($"user {user}: not started as root, so there is no privilege to drop.");
        if (_config.PidFile is { } pidFile)
            File.WriteAllText(pidFile, Environment.ProcessId + "\n");

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new KestrelTlsLog());
        builder.Logging.AddFilter<KestrelTlsLog>(KestrelTlsLog.Category, LogLevel.Debug);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        var listenOptions = new List<ListenOptions>();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            for (int i = 0; i < _config.Listeners.Count; i++)
            {
                var listener = _config.Listeners[i];
                var tls = _tls.GetValueOrDefault(listener);
                var policy = _policies[i];
                var context = new ListenerContext(policy, new ConnectionLimit(listener.MaxConnections), tls);
                bool websockets = listener.Protocol == "websockets";
                void Configure(ListenOptions lo)
                {
                    listenOptions.Add(lo);
                    // Plain MQTT speaks no HTTP: left at Kestrel's default, TLS would offer h2 and http/1.1 by ALPN and
                    // refuse a client that offers "mqtt" (RFC 7301). With none, ALPN is ignored, as by Mosquitto.
                    if (websockets) WebSocketTransport.Listen(lo, context); else lo.Protocols = HttpProtocols.None;
                    if (tls is not null) TlsHandshake.Use(lo, tls, _log);
                    if (!websockets)
                        lo.Run(connection => RunConnectionAsync(ListenerContext.Transport(connection.Transport, connection.RemoteEndPoint,
                            (connection.LocalEndPoint as IPEndPoint)?.Port ?? listener.Port, connection.Abort,
                            connection.Features.Get<ITlsConnectionFeature>()?.ClientCertificate), context));
                }
                if (listener.UnixSocketPath is { } socketPath)
                {
                    // As Mosquitto (it unlinks the path first): a socket file left by an earlier run is replaced.
                    File.Delete(socketPath);
                    kestrel.ListenUnixSocket(socketPath, Configure);
                    continue;
                }
                foreach (var address in BindAddresses(listener))
                    kestrel.Listen(address, listener.Port, Configure);
            }
            _observability.Listen(kestrel);
        });
        _app = builder.Build();
        _observability.Map(_app);
        WebSocketTransport.Map(_app, RunConnectionAsync, _log);
        _app.Lifetime.ApplicationStopping.Register(() =>
        {
            _log.Notice($"Holdfast version {Version} terminating");
            SystemdNotify.Send("STOPPING=1", _log);
            _observability.StopSysTopics();
            Broker.Shutdown();
        });
        try
        {
            await _app.StartAsync(cancellation);
        }
        catch (IOException e)
        {
            // Kestrel words it for HTTP ("Failed to bind to address http://..." or https://); say it for MQTT.
            throw new IOException($"cannot open listen socket: {e.Message.Replace("https://", "").Replace("http://", "")}", e);
        }
        foreach (var line in ListenerLines(listenOptions)) _log.Notice(line);
        if (_privilegeDrop is { } drop)
        {
            drop.Drop();
            if (_config.Persistence) drop.CheckWritable(_config.DataDirectory);
            _log.Notice($"Dropped privileges to user {drop}.");
        }
        _observability.Start();
        _log.Notice($"Holdfast version {Version} running");
        SystemdNotify.Send("READY=1", _log);
    }

    private async Task RunConnectionAsync(ClientTransport transport, ListenerContext listener)
    {
        if (!listener.Connections.TryEnter())
        {
            await MaxConnectionsRefusal.RunAsync(transport, listener.Connections.Limit, listener.Policy.Name, _log);
            return;
        }
        try
        {
            await new MqttConnection(transport, Broker, listener.Policy, _readDeadlines, _log).RunAsync();
        }
        finally
        {
            listener.Connections.Exit();
        }
    }

    /// <summary>The <c>user</c> to become, checked before anything is opened: an unknown user stops startup at its
    /// config line. Log files are handed over too, so that SIGHUP can reopen them.</summary>
    private static PrivilegeDrop? PrivilegeDropFor(HoldfastConfig config)
    {
        PrivilegeDrop? drop;
        try
        {
            drop = PrivilegeDrop.For(config.User);
        }
        catch (InvalidOperationException e)
        {
            var (file, line) = config.Locations.TryGetValue("user", out var at) ? at : (config.ConfigFile ?? "", 0);
            throw new ConfigException(file, line, e.Message);
        }
        foreach (var destination in config.LogDestinations)
            if (destination is { Kind: LogDestinationKind.File, Path: { } path } && File.Exists(path)) drop?.HandOverFile(path);
        return drop;
    }

    /// <summary>Mosquitto's lines for the sockets opened (log parsers match them): "Opening ipv4 listen socket on port N."
    /// (a dual-stack socket serves both families, so both lines), "Opening websockets listen socket on port N." once per
    /// WebSocket listener, "Opening unix listen socket on path P.". Also records the endpoints bound.</summary>
    private List<string> ListenerLines(List<ListenOptions> listenOptions)
    {
        var lines = new List<string>();
        foreach (var lo in listenOptions)
        {
            if (lo.SocketPath is { } path) { lines.Add($"Opening unix listen socket on path {path}."); continue; }
            var endpoint = lo.IPEndPoint!;
            _endpoints.Add(endpoint);
            if (lo.Protocols != HttpProtocols.None)
            {
                string line = $"Opening websockets listen socket on port {endpoint.Port}.";
                if (!lines.Contains(line)) lines.Add(line);
                continue;
            }
            bool v6 = endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
            if (!v6 || endpoint.Address.Equals(IPAddress.IPv6Any)) lines.Add($"Opening ipv4 listen socket on port {endpoint.Port}.");
            if (v6) lines.Add($"Opening ipv6 listen socket on port {endpoint.Port}.");
        }
        return lines;
    }

    private static IPAddress[] BindAddresses(ListenerConfig listener)
    {
        // Hosts with IPv6 disabled still get their IPv4 listeners.
        bool ipv6 = System.Net.Sockets.Socket.OSSupportsIPv6;
        if (listener.LocalOnly) return ipv6 ? [IPAddress.Loopback, IPAddress.IPv6Loopback] : [IPAddress.Loopback];
        if (listener.BindAddress is null) return [ipv6 ? IPAddress.IPv6Any : IPAddress.Any];
        if (IPAddress.TryParse(listener.BindAddress, out var ip)) return [ip];
        return Dns.GetHostAddresses(listener.BindAddress);
    }

    /// <summary>Stops accepting, disconnects clients (MQTT 5: 0x8B Server shutting down) and stops.</summary>
    public async Task StopAsync()
    {
        if (_app is null) return;
        // Stopping the host raises ApplicationStopping, which shuts the broker down (see StartAsync).
        await _app.StopAsync();
    }

    /// <summary>Runs until SIGTERM/SIGINT.</summary>
    public async Task RunAsync()
    {
        await StartAsync();
        await _app!.WaitForShutdownAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
        _observability.Dispose();
        _readDeadlines.Dispose();
        // Dynamic security first: its worker may still act on the broker (kick, answer) until it stops.
        _dynamicSecurity.Dispose();
        Broker.Dispose();
        // After the broker has shut down and recorded every session as offline: writes what is pending, closes the directory.
        _store?.Dispose();
        _ownedLog?.Dispose();
    }
}
