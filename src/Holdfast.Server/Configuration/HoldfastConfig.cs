using Holdfast.Broker;
using Holdfast.Server.Logging;
using Holdfast.Storage.RocksDb;

namespace Holdfast.Server.Configuration;

/// <summary>
/// Everything a Holdfast config file says, with Mosquitto 2's defaults where the file is silent.
/// Produced by <see cref="ConfigParser"/>, or by <see cref="Default"/> when there is no config file.
/// </summary>
public sealed class HoldfastConfig
{
    /// <summary>Never empty once parsed: with no listener configured it holds one <see cref="ListenerConfig.LocalOnly"/>
    /// listener on port 1883, as Mosquitto 2 does.</summary>
    public List<ListenerConfig> Listeners { get; } = new();

    /// <summary>Broker-wide limits and policies (max_inflight_messages, max_queued_messages, …).</summary>
    public BrokerOptions Broker { get; } = new();

    /// <summary>log_type; Mosquitto's default when no log_type line is present.</summary>
    public LogType LogTypes { get; set; } = LogType.Error | LogType.Warning | LogType.Notice | LogType.Information;

    /// <summary>log_dest; Mosquitto's default is stderr.</summary>
    public List<LogDestination> LogDestinations { get; } = new() { LogDestination.Stderr };

    /// <summary>log_facility: the syslog facility number for log_dest syslog (16..23 local0..local7; 3 daemon).</summary>
    public int LogFacility { get; set; } = 3;

    /// <summary>(Holdfast) syslog_socket: where log_dest syslog sends its lines.</summary>
    public string SyslogSocket { get; set; } = "/dev/log";

    /// <summary>log_timestamp: prefix each line with the time.</summary>
    public bool LogTimestamp { get; set; } = true;

    /// <summary>log_timestamp_format (strftime-like); null = Unix seconds, as Mosquitto.</summary>
    public string? LogTimestampFormat { get; set; }


    /// <summary>persistence: keep sessions and messages on disk. On by default in Holdfast, because an acknowledged
    /// message that is not on disk is not safe.</summary>
    public bool Persistence { get; set; } = true;

    /// <summary>persistence_location: where the data directory (<see cref="DataDirectory"/>) is made; null = the
    /// working directory, as Mosquitto puts mosquitto.db there.</summary>
    public string? PersistenceLocation { get; set; }

    /// <summary>The store's directory: <c>holdfast.db</c> under persistence_location. A directory of its own, so that a
    /// Mosquitto persistence_location (holding mosquitto.db) can be reused as it is.</summary>
    public string DataDirectory => Path.GetFullPath(Path.Combine(PersistenceLocation ?? ".", "holdfast.db"));

    /// <summary>durability: what an acknowledgement promises (sync, os, memory). See the README.</summary>
    public Durability Durability { get; set; } = Durability.Sync;

    /// <summary>store_write_buffer_size and store_cache_size: the memory the store's RocksDB may hold.</summary>
    public StoreOptions Store { get; } = new();

    /// <summary>Mosquitto directives accepted at the value Holdfast always has, one line each for the startup log.</summary>
    public List<string> NoEffect { get; } = [];

    /// <summary>persistence_file: accepted for Mosquitto compatibility and stored.</summary>
    public string? PersistenceFile { get; set; }

    /// <summary>autosave_interval (seconds), stored only. Holdfast commits to disk before every acknowledgement,
    /// so there is nothing to save on a timer and this setting has no effect.</summary>
    public int AutosaveInterval { get; set; } = 1800;

    /// <summary>sys_interval: seconds between $SYS updates; 0 = $SYS off.</summary>
    public int SysInterval { get; set; } = 10;

    /// <summary>metrics_listener: where /metrics is served; null = off.</summary>
    public MetricsListenerConfig? MetricsListener { get; set; }

    /// <summary>per_listener_settings: allow_anonymous, password_file and acl_file belong to each listener.</summary>
    public bool PerListenerSettings { get; set; }

    /// <summary>Global allow_anonymous (per_listener_settings false); null = not set.
    /// Use <see cref="EffectiveAllowAnonymous"/> to decide.</summary>
    public bool? AllowAnonymous { get; set; }

    /// <summary>Global password_file (per_listener_settings false); see Security/SecurityFiles.</summary>
    public string? PasswordFile { get; set; }

    /// <summary>Global acl_file (per_listener_settings false); see Security/SecurityFiles.</summary>
    public string? AclFile { get; set; }

    /// <summary>Global dynamic security (per_listener_settings false); null = none.</summary>
    public DynamicSecurityConfig? DynamicSecurity { get; set; }

    /// <summary>ack_timeout given before any listener: the default for listeners that do not set their own. On by
    /// default: a subscriber that stops acknowledging holds its publishers back only this long (queue_full_policy).</summary>
    public TimeSpan? AckTimeout { get; set; } = DefaultAckTimeout;

    public static readonly TimeSpan DefaultAckTimeout = TimeSpan.FromSeconds(60);

    /// <summary>ack_timeout_action given before any listener: the default for listeners that do not set their own.
    /// Disconnect by default: the stuck session goes offline, where its full queue no longer holds anyone back.</summary>
    public bool AckTimeoutDisconnect { get; set; } = true;

    /// <summary>Whether max_queued_messages or max_queued_bytes was set. When neither was and the store is on, a
    /// session's queue is bounded by <see cref="DefaultQueuedBytes"/> on disk rather than by Mosquitto's 1,000 messages
    /// (see <see cref="QueueLimits"/>).</summary>
    public bool QueueLimitsSet { get; set; }

    /// <summary>max_queued_bytes with the store on and no limit configured: hours of a busy subscription's traffic
    /// (docs/configuration.md has the arithmetic).</summary>
    public const long DefaultQueuedBytes = 1L << 30;

    /// <summary>max_queued_bytes_total with the store on, when not set: what all queues together may hold.</summary>
    public const long DefaultQueuedBytesTotal = 16L << 30;

    /// <summary>Whether max_queued_bytes_total was set.</summary>
    public bool QueuedBytesTotalSet { get; set; }

    /// <summary>Applies the queue bounds that depend on persistence, where the file set none: with the store on, queues
    /// live on disk and are bounded in bytes; without it they are in memory, bounded as Mosquitto bounds them.</summary>
    public void QueueLimits()
    {
        if (!Persistence) return;
        if (!QueueLimitsSet)
        {
            Broker.MaxQueuedMessages = 0;
            Broker.MaxQueuedBytes = DefaultQueuedBytes;
        }
        if (!QueuedBytesTotalSet) Broker.MaxQueuedBytesTotal = DefaultQueuedBytesTotal;
    }

    /// <summary>user: stored; dropping privileges is the service manager's job on .NET.</summary>
    public string? User { get; set; }

    /// <summary>Where each directive first appeared (file, line), so that later checks can name the line.</summary>
    public Dictionary<string, (string File, int Line)> Locations { get; } = new(StringComparer.Ordinal);

    /// <summary>pid_file: stored for the server to write.</summary>
    public string? PidFile { get; set; }

    /// <summary>The file the config was read from (for the "Config loaded from" line); null without one.</summary>
    public string? ConfigFile { get; set; }

    /// <summary>The config used when Holdfast starts with no config file: one local-only listener on port 1883
    /// (127.0.0.1 and ::1) that allows anonymous clients, like Mosquitto 2.</summary>
    public static HoldfastConfig Default()
    {
        var config = new HoldfastConfig();
        config.Listeners.Add(LocalOnlyListener());
        return config;
    }

    internal static ListenerConfig LocalOnlyListener() => new() { Port = 1883, LocalOnly = true };

    /// <summary>
    /// Whether clients without a username may connect on a listener, as Mosquitto 2 decides: the listener's own
    /// setting with per_listener_settings, otherwise the global one; when unset, false — except on the local-only
    /// listener, which allows anonymous clients unless told not to.
    /// </summary>
    public bool EffectiveAllowAnonymous(ListenerConfig listener)
    {
        bool? configured = PerListenerSettings ? listener.AllowAnonymous : AllowAnonymous;
        return configured ?? listener.LocalOnly;
    }

    /// <summary>The password_file that applies to a listener (per listener or global, as per_listener_settings says).</summary>
    public string? EffectivePasswordFile(ListenerConfig listener) => PerListenerSettings ? listener.PasswordFile : PasswordFile;

    /// <summary>The acl_file that applies to a listener (per listener or global, as per_listener_settings says).</summary>
    public string? EffectiveAclFile(ListenerConfig listener) => PerListenerSettings ? listener.AclFile : AclFile;

    /// <summary>The dynamic security plugin that applies to a listener (per listener or global).</summary>
    public DynamicSecurityConfig? EffectiveDynamicSecurity(ListenerConfig listener) => PerListenerSettings ? listener.DynamicSecurity : DynamicSecurity;
}
