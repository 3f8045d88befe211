using System.Globalization;
using Holdfast.Broker;
using Holdfast.Server.Logging;
using Holdfast.Storage.RocksDb;

namespace Holdfast.Server.Configuration;

/// <summary>
/// Applies directive lines, in file order, to a <see cref="HoldfastConfig"/>. Knows what each key means and
/// which listener it belongs to; knows nothing about reading files (that is <see cref="ConfigParser"/>).
/// </summary>
internal sealed class ConfigBuilder
{
    // Directives Mosquitto has and Holdfast does not, each with what to do instead. Naming them as such tells the
    // operator the file is not mistyped: the feature is missing, and the line must go (or wait for the feature).
    private const string Bridges = "bridges are not supported yet; keep the bridge on a Mosquitto broker for now";
    private const string Plugins = "plugins other than Mosquitto's dynamic security are not supported; use password_file and acl_file, "
        + "or dynamic security (plugin PATH/mosquitto_dynamic_security.so with plugin_opt_config_file)";
    private const string NotYet = "not supported yet (docs/mosquitto-differences.md)";
    private const string Psk = "TLS-PSK is not supported: .NET's TLS (SslStream) has no pre-shared key support; use certificates "
        + "(cafile, require_certificate, use_identity_as_username)";
    /// <summary>The plugin Holdfast runs natively, recognised by its file name in any directory.</summary>
    public const string DynamicSecurityFileName = "mosquitto_dynamic_security.so";
    private static readonly Dictionary<string, string> MosquittoOnly = new(StringComparer.Ordinal)
    {
        ["accept_protocol_versions"] = "every listener takes MQTT 3.1, 3.1.1 and 5.0; remove the line",
        ["address"] = Bridges, ["addresses"] = Bridges, ["connection"] = Bridges, ["topic"] = Bridges,
        // The other lines of a bridge's `connection` section.
        ["cleansession"] = Bridges, ["clientid"] = Bridges, ["idle_timeout"] = Bridges, ["keepalive_interval"] = Bridges,
        ["local_cleansession"] = Bridges, ["local_clientid"] = Bridges, ["local_password"] = Bridges, ["local_username"] = Bridges,
        ["notification_topic"] = Bridges, ["notifications"] = Bridges, ["notifications_local_only"] = Bridges,
        ["remote_clientid"] = Bridges, ["remote_password"] = Bridges, ["remote_username"] = Bridges, ["username"] = Bridges,
        ["password"] = Bridges, ["restart_timeout"] = Bridges, ["round_robin"] = Bridges, ["start_type"] = Bridges,
        ["threshold"] = Bridges, ["try_private"] = Bridges,
        ["allow_duplicate_messages"] = "Holdfast delivers one copy per session, whatever the overlapping subscriptions; remove the line",
        ["auth_plugin"] = "load dynamic security with 'plugin'; " + Plugins,
        ["auth_plugin_deny_special_chars"] = Plugins, ["global_plugin"] = Plugins, ["plugin_load"] = Plugins,
        ["auto_id_prefix"] = "assigned client ids start with 'auto-'; remove the line",
        ["bind_interface"] = "give the listener the interface's ADDRESS (listener PORT ADDRESS)",
        ["check_retain_source"] = NotYet,
        ["ciphers"] = "the cipher suites are the system OpenSSL policy's; tls_version sets the minimum version",
        ["ciphers_tls1.3"] = "the cipher suites are the system OpenSSL policy's; tls_version sets the minimum version",
        ["clientid_prefixes"] = "restrict clients with password_file and acl_file",
        ["dhparamfile"] = "not needed: OpenSSL chooses the key exchange parameters; remove the line",
        ["http_dir"] = "websockets listeners serve MQTT only; serve files with a web server",
        ["max_inflight_bytes"] = NotYet + "; max_inflight_messages bounds what is in flight",
        ["mount_point"] = NotYet,
        ["psk_file"] = Psk,
        ["psk_hint"] = Psk,
        ["socket_domain"] = "give the listener an IPv4 or IPv6 ADDRESS to bind one family",
        ["tls_engine"] = "TLS engines are not supported; give the key in keyfile",
        ["tls_engine_kpass_sha1"] = "TLS engines are not supported; give the key in keyfile",
        ["tls_keyform"] = "TLS engines are not supported; give the key in keyfile (PEM)",
        ["use_username_as_clientid"] = NotYet,
        ["websockets_headers_size"] = "not needed: the HTTP server sizes request headers itself; remove the line",
        ["websockets_log_level"] = "use log_type websockets",
    };

    /// <summary>What to do instead of a Mosquitto directive Holdfast lacks; null for a directive Mosquitto does not have.</summary>
    private static string? InsteadOf(string key) =>
        MosquittoOnly.TryGetValue(key, out var instead) ? instead
        : key.StartsWith("bridge_", StringComparison.Ordinal) ? Bridges
        : key.StartsWith("plugin_opt_", StringComparison.Ordinal) || key.StartsWith("auth_opt_", StringComparison.Ordinal) ? Plugins
        : null;

    private readonly HoldfastConfig _config = new();

    /// <summary>The lines refused so far; reading goes on, so that one pass finds them all.</summary>
    public List<ConfigException> Errors { get; } = [];
    private readonly List<ListenerConfig> _listeners = new();

    // Mosquitto's "default listener": the one `port` and `bind_address` describe, and that listener settings
    // written before any `listener` line apply to. It exists only if something configured it.
    private ListenerConfig? _defaultListener;

    // ack_timeout and its action set inside a listener block; other listeners inherit the global values.
    private readonly Dictionary<ListenerConfig, TimeSpan?> _ackTimeouts = new();
    private readonly Dictionary<ListenerConfig, bool> _ackDisconnects = new();

    // The first log_type / log_dest line replaces Mosquitto's default rather than adding to it.
    private bool _logTypeSeen;
    private bool _logDestSeen;
    private bool _securitySettingSeen;
    // The plugin line plugin_opt_ lines belong to (only dynamic security is accepted), and every plugin line.
    private DynamicSecurityConfig? _currentPlugin;
    private readonly List<DynamicSecurityConfig> _plugins = [];

    /// <summary>The listener block the current file is in; null before its first listener/port/bind_address line.</summary>
    public ListenerConfig? CurrentListener { get; set; }

    public void Apply(ConfigLine line)
    {
        _config.Locations.TryAdd(line.Key, (line.File, line.Number));
        switch (line.Key)
        {
            // Listeners
            case "listener": OpenListener(line); break;
            case "port": DefaultListener(line).Port = line.Int(1, 65535); CurrentListener = _defaultListener; break;
            case "bind_address": DefaultListener(line).BindAddress = line.Word(); CurrentListener = _defaultListener; break;
            case "protocol": ListenerFor(line).Protocol = line.Choice("mqtt", "websockets"); break;
            case "max_connections": ListenerFor(line).MaxConnections = MaxConnections(line); break;
            case "max_qos": ListenerFor(line).MaxQoS = line.Int(0, 2); break;
            // Mosquitto's other name for max_qos.
            case "maximum_qos": ListenerFor(line).MaxQoS = line.Int(0, 2); break;
            case "certfile": ListenerFor(line).CertFile = line.Text(); break;
            case "keyfile": ListenerFor(line).KeyFile = line.Text(); break;
            case "cafile": ListenerFor(line).CaFile = line.Text(); break;
            case "capath": ListenerFor(line).CaPath = line.Text(); break;
            case "require_certificate": ListenerFor(line).RequireCertificate = line.Bool(); break;
            case "use_identity_as_username": ListenerFor(line).UseIdentityAsUsername = line.Bool(); break;
            case "use_subject_as_username": ListenerFor(line).UseSubjectAsUsername = line.Bool(); break;
            case "crlfile": ListenerFor(line).CrlFile = line.Text(); break;
            case "tls_version": ListenerFor(line).TlsVersion = line.Choice("tlsv1.3", "tlsv1.2", "tlsv1.1"); break;
            case "ack_timeout": SetAckTimeout(line); break;
            case "ack_timeout_action": SetAckTimeoutAction(line); break;

            // Authentication and access: global, or per listener with per_listener_settings
            case "per_listener_settings": SetPerListenerSettings(line); break;
            case "allow_anonymous": SetSecurity(line, l => l.AllowAnonymous = line.Bool(), c => c.AllowAnonymous = line.Bool()); break;
            case "password_file": SetSecurity(line, l => l.PasswordFile = line.Text(), c => c.PasswordFile = line.Text()); break;
            case "acl_file": SetSecurity(line, l => l.AclFile = line.Text(), c => c.AclFile = line.Text()); break;
            case "plugin": SetPlugin(line); break;
            case "plugin_opt_config_file": PluginOption(line).ConfigFile = line.Text(); break;
            case "allow_zero_length_clientid": _config.Broker.AllowZeroLengthClientId = line.Bool(); break;

            // Delivery limits
            case "max_inflight_messages": _config.Broker.MaxInflightMessages = line.Int(0, 65535); break;
            case "max_queued_messages": _config.Broker.MaxQueuedMessages = line.Int(0, int.MaxValue); _config.QueueLimitsSet = true; break;
            case "max_queued_bytes": _config.Broker.MaxQueuedBytes = line.Long(0, long.MaxValue); _config.QueueLimitsSet = true; break;
            case "max_queued_bytes_total": _config.Broker.MaxQueuedBytesTotal = line.Long(0, long.MaxValue); _config.QueuedBytesTotalSet = true; break;
            case "queue_qos0_messages": _config.Broker.QueueQos0Messages = line.Bool(); break;
            case "queue_full_policy": _config.Broker.QueueFullPolicy = QueueFullPolicyValue(line); break;
            case "max_keepalive": _config.Broker.MaxKeepAlive = (ushort)line.Int(0, 65535); break;
            // Mosquitto's limits: a packet under 20 bytes could not even carry a CONNECT; payloads are capped by MQTT.
            case "max_packet_size": _config.Broker.MaxPacketSize = line.Int(20, 268_435_460); break;
            case "message_size_limit": _config.Broker.MessageSizeLimit = line.Int(0, 268_435_455); break;
            case "persistent_client_expiration": _config.Broker.PersistentClientExpiration = line.Duration(); break;
            case "retain_available": _config.Broker.RetainAvailable = line.Bool(); break;
            case "max_topic_alias": _config.Broker.TopicAliasMaximum = (ushort)line.Int(0, 65535); break;
            case "receive_maximum": _config.Broker.ReceiveMaximum = (ushort)line.Int(1, 65535); break;
            case "retry_interval_v311": _config.Broker.RetryIntervalV311 = SecondsOrOff(line.Int(0, int.MaxValue)); break;

            // Persistence
            case "persistence": _config.Persistence = line.Bool(); break;
            // Mosquitto's older name for the same setting.
            case "retained_persistence": _config.Persistence = line.Bool(); break;
            case "persistence_location": _config.PersistenceLocation = line.Text(); break;
            case "persistence_file": _config.PersistenceFile = line.Text(); break;
            case "durability":
                _config.Durability = line.Choice("sync", "os", "memory") switch
                {
                    "sync" => Durability.Sync,
                    "os" => Durability.Os,
                    _ => Durability.Memory,
                };
                break;
            // RocksDB clips a memtable to 64 KiB..64 GiB; refusing what it would silently change.
            case "store_write_buffer_size": _config.Store.WriteBufferSize = line.Size(64L << 10, 64L << 30); break;
            case "store_cache_size": _config.Store.CacheSize = line.Size(0, 64L << 30); break;
            // Accepted so Mosquitto files load; Holdfast commits before acknowledging, so there is no timer to set.
            case "autosave_interval": _config.AutosaveInterval = line.Int(0, int.MaxValue); break;
            // Mosquitto directives whose value Holdfast always has: accepted at that value, with a note at startup.
            case "set_tcp_nodelay":
                if (!line.Bool()) throw line.Fail("Holdfast always sets TCP_NODELAY (it writes once per batch of packets); remove the line");
                _config.NoEffect.Add($"set_tcp_nodelay true ({line.File}:{line.Number}): Holdfast always sets TCP_NODELAY; the line has no effect.");
                break;
            case "memory_limit":
                if (line.Long(0, long.MaxValue) != 0) throw line.Fail("not supported; bound what queues hold with max_queued_bytes and max_queued_bytes_total");
                _config.NoEffect.Add($"memory_limit 0 ({line.File}:{line.Number}): no limit, as without the line; queues are bounded by max_queued_bytes and max_queued_bytes_total.");
                break;
            case "upgrade_outgoing_qos":
                if (line.Bool()) throw line.Fail("not supported: Holdfast delivers at the QoS of the message, at most the subscription's");
                _config.NoEffect.Add($"upgrade_outgoing_qos false ({line.File}:{line.Number}): Holdfast never upgrades; the line has no effect.");
                break;
            case "autosave_on_changes": line.Bool(); break;
            // Gone from Mosquitto 2 too, which warns and goes on: QoS 1/2 messages are resent on reconnection.
            case "retry_interval":
                line.Int(0, int.MaxValue);
                _config.NoEffect.Add($"retry_interval ({line.File}:{line.Number}): no longer an option (as in Mosquitto 2): messages are resent when the client reconnects; retry_interval_v311 resends to connected MQTT 3.1.1 clients.");
                break;

            // Logging
            case "log_type": AddLogType(line); break;
            case "log_dest": AddLogDestination(line); break;
            // As Mosquitto: N is syslog's local N; without the line, daemon.
            case "log_facility": _config.LogFacility = 16 + line.Int(0, 7); break;
            case "syslog_socket": _config.SyslogSocket = line.Text(); break;
            case "log_timestamp": _config.LogTimestamp = line.Bool(); break;
            case "log_timestamp_format": _config.LogTimestampFormat = TimestampFormat(line); break;
            case "connection_messages": _config.Broker.ConnectionMessages = line.Bool(); break;

            // Process
            case "sys_interval": _config.SysInterval = line.Int(0, 65535); break;
            case "metrics_listener": _config.MetricsListener = MetricsListener(line); break;
            case "user": _config.User = line.Word(); break;
            case "pid_file": _config.PidFile = line.Text(); break;

            // Mosquitto hands other plugin_opt_ lines to the plugin, and dynamic security reads only config_file.
            case var key when key.StartsWith("plugin_opt_", StringComparison.Ordinal) && _currentPlugin is not null: break;
            default:
                if (InsteadOf(line.Key) is { } instead)
                    throw new ConfigException(line.File, line.Number, $"'{line.Key}' is a Mosquitto directive that Holdfast does not support: {instead}");
                throw new ConfigException(line.File, line.Number, $"unknown directive '{line.Key}'");
        }
    }

    /// <summary>Finishes the config once every line is applied: orders listeners, fills inherited values.</summary>
    public HoldfastConfig Build()
    {
        // The default listener was described before any `listener` line, so it comes first.
        if (_defaultListener is not null)
            _config.Listeners.Add(_defaultListener);
        _config.Listeners.AddRange(_listeners);

        // Nothing to listen on: Mosquitto 2's local-only mode.
        if (_config.Listeners.Count == 0)
            _config.Listeners.Add(HoldfastConfig.LocalOnlyListener());

        int syslog = _config.LogDestinations.FindIndex(d => d.Kind == LogDestinationKind.Syslog);
        if (syslog >= 0) _config.LogDestinations[syslog] = LogDestination.Syslog(_config.SyslogSocket, _config.LogFacility);

        // Caught here, with the line, rather than as a bind failure at startup.
        if (_config.MetricsListener is { } metrics && _config.Listeners.Any(l => l.Port == metrics.Port))
        {
            throw new ConfigException(metrics.File, metrics.Line, $"metrics_listener: port {metrics.Port} is already an MQTT listener's port");
        }

        // Mosquitto would run the plugin without a file and check nothing; a mistake worth stopping for.
        if (_plugins.Find(p => p.ConfigFile is null) is { } unconfigured)
            throw new ConfigException(unconfigured.File, unconfigured.Line,
                $"plugin: {DynamicSecurityFileName} needs plugin_opt_config_file (the JSON file of its clients, groups and roles)");

        foreach (var listener in _config.Listeners)
        {
            listener.AckTimeout = _ackTimeouts.TryGetValue(listener, out var timeout) ? timeout : _config.AckTimeout;
            listener.AckTimeoutDisconnect = _ackDisconnects.TryGetValue(listener, out var disconnect) ? disconnect : _config.AckTimeoutDisconnect;
        }
        return _config;
    }

    private static MetricsListenerConfig MetricsListener(ConfigLine line)
    {
        if (line.Args.Length == 0) throw line.Fail("missing port");
        if (line.Args.Length > 2) throw line.Fail($"unexpected extra value '{line.Args[2]}'");
        var metrics = new MetricsListenerConfig { Port = ListenerPort(line, line.Args[0]), File = line.File, Line = line.Number };
        if (line.Args.Length == 2)
        {
            if (!System.Net.IPAddress.TryParse(line.Args[1], out var address)) throw line.Fail($"'{line.Args[1]}' is not an IP address");
            metrics.Address = address;
        }
        return metrics;
    }

    private void OpenListener(ConfigLine line)
    {
        if (line.Args.Length == 0)
            throw line.Fail("missing port");
        if (line.Args.Length > 2)
            throw line.Fail($"unexpected extra value '{line.Args[2]}'");

        // As Mosquitto: port 0 with a path is a Unix domain socket listener.
        bool unix = line.Args[0] == "0";
        if (unix && line.Args.Length < 2)
            throw line.Fail("port 0 needs a unix socket path (listener 0 /run/holdfast/holdfast.sock)");
        var listener = new ListenerConfig
        {
            Port = unix ? 0 : ListenerPort(line, line.Args[0]),
            BindAddress = !unix && line.Args.Length == 2 ? line.Args[1] : null,
            UnixSocketPath = unix ? line.Args[1] : null,
            File = line.File,
            Line = line.Number,
        };
        _listeners.Add(listener);
        CurrentListener = listener;
    }

    private static int ListenerPort(ConfigLine line, string word)
    {
        if (!int.TryParse(word, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var port))
            throw line.Fail($"'{word}' is not a number");
        if (port < 1 || port > 65535)
            throw line.Fail($"port {port} is out of range (1..65535)");
        return port;
    }

    private ListenerConfig DefaultListener(ConfigLine line) =>
        _defaultListener ??= new ListenerConfig { File = line.File, Line = line.Number };

    /// <summary>The listener a listener-scoped key applies to: the open block, or (as in Mosquitto) the default listener.</summary>
    private ListenerConfig ListenerFor(ConfigLine line)
    {
        var listener = CurrentListener ?? DefaultListener(line);
        // Per listener, so that a later check (a certfile that cannot be read) names this listener's line.
        listener.Locations[line.Key] = (line.File, line.Number);
        return listener;
    }

    private static int MaxConnections(ConfigLine line)
    {
        int value = line.Int(-1, int.MaxValue);
        if (value == 0)
            throw line.Fail("0 would refuse every client; use -1 for unlimited");
        return value;
    }

    private void SetAckTimeout(ConfigLine line)
    {
        var timeout = SecondsOrOff(line.Int(0, int.MaxValue));
        if (CurrentListener is null)
            _config.AckTimeout = timeout;
        else
            _ackTimeouts[CurrentListener] = timeout;
    }

    private void SetAckTimeoutAction(ConfigLine line)
    {
        bool disconnect = line.Choice("log", "disconnect") == "disconnect";
        if (CurrentListener is null)
            _config.AckTimeoutDisconnect = disconnect;
        else
            _ackDisconnects[CurrentListener] = disconnect;
    }

    private static TimeSpan? SecondsOrOff(int seconds) => seconds == 0 ? null : TimeSpan.FromSeconds(seconds);

    private void SetPerListenerSettings(ConfigLine line)
    {
        bool value = line.Bool();
        // Changing it after a security line would silently move that line's meaning; refuse instead.
        if (_securitySettingSeen && value != _config.PerListenerSettings)
            throw line.Fail("must come before any allow_anonymous, password_file, acl_file or plugin line");
        _config.PerListenerSettings = value;
    }

    private void SetSecurity(ConfigLine line, Action<ListenerConfig> onListener, Action<HoldfastConfig> onGlobal)
    {
        _securitySettingSeen = true;
        if (!_config.PerListenerSettings)
        {
            onGlobal(_config);
            return;
        }
        if (CurrentListener is null)
            throw line.Fail("per_listener_settings is true, so this must follow the listener it applies to");
        onListener(CurrentListener);
    }

    /// <summary>A plugin line: Mosquitto's dynamic security, in any directory, is run natively; any other plugin is refused.</summary>
    private void SetPlugin(ConfigLine line)
    {
        string path = line.Text();
        if (Path.GetFileName(path) != DynamicSecurityFileName)
            throw line.Fail($"{path} is not Mosquitto's dynamic security: {Plugins}");
        var plugin = new DynamicSecurityConfig { File = line.File, Line = line.Number };
        SetSecurity(line, l => l.DynamicSecurity = Once(line, l.DynamicSecurity, plugin), c => c.DynamicSecurity = Once(line, c.DynamicSecurity, plugin));
        _currentPlugin = plugin;
        _plugins.Add(plugin);
    }

    private static DynamicSecurityConfig Once(ConfigLine line, DynamicSecurityConfig? existing, DynamicSecurityConfig plugin) =>
        existing is null ? plugin : throw line.Fail("dynamic security is already loaded here (one plugin line per listener, or one globally)");

    private DynamicSecurityConfig PluginOption(ConfigLine line) =>
        _currentPlugin ?? throw line.Fail("must follow the plugin line it configures");

    private static QueueFullPolicy QueueFullPolicyValue(ConfigLine line) => line.Choice("end_session", "block", "drop_new", "drop_oldest") switch
    {
        "block" => QueueFullPolicy.Block,
        "drop_new" => QueueFullPolicy.DropNew,
        "drop_oldest" => QueueFullPolicy.DropOldest,
        _ => QueueFullPolicy.EndSession,
    };

    private void AddLogType(ConfigLine line)
    {
        var type = line.Choice("debug", "error", "warning", "notice", "information", "subscribe", "unsubscribe", "websockets", "none", "all") switch
        {
            "debug" => LogType.Debug,
            "error" => LogType.Error,
            "warning" => LogType.Warning,
            "notice" => LogType.Notice,
            "information" => LogType.Information,
            "subscribe" => LogType.Subscribe,
            "unsubscribe" => LogType.Unsubscribe,
            "websockets" => LogType.WebSockets,
            "all" => LogType.All,
            _ => LogType.None,
        };
        if (!_logTypeSeen)
            _config.LogTypes = LogType.None;
        _logTypeSeen = true;
        _config.LogTypes |= type;
    }

    private void AddLogDestination(ConfigLine line)
    {
        if (line.Args.Length == 0)
            throw line.Fail("missing value");

        LogDestination? destination;
        switch (line.Args[0])
        {
            case "stdout": line.Word(); destination = LogDestination.Stdout; break;
            case "stderr": line.Word(); destination = LogDestination.Stderr; break;
            case "none": line.Word(); destination = null; break;
            case "file":
                // The path is the rest of the line, so paths with spaces work.
                var path = line.Rest["file".Length..].Trim();
                if (path.Length == 0)
                    throw line.Fail("file needs a path");
                destination = LogDestination.File(path);
                break;
            // Its facility and socket may be set after this line: filled in at Build.
            case "syslog": line.Word(); destination = LogDestination.Syslog("", 0); break;
            case "topic" or "dlt":
                throw line.Fail($"'{line.Args[0]}' is not supported by Holdfast (use stdout, stderr, file PATH or syslog)");
            default:
                throw line.Fail($"'{line.Args[0]}' is not one of stdout, stderr, file, none");
        }

        if (!_logDestSeen)
            _config.LogDestinations.Clear();
        _logDestSeen = true;
        if (destination is null)
            _config.LogDestinations.Clear();
        else if (!_config.LogDestinations.Contains(destination))
            _config.LogDestinations.Add(destination);
    }

    private static string TimestampFormat(ConfigLine line)
    {
        var format = line.Text();
        if (!LogTimestampFormat.TryParse(format, out _, out var error))
            throw line.Fail(error);
        return format;
    }
}
