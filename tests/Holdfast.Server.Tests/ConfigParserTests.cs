using Holdfast.Broker;
using Holdfast.Server.Configuration;
using Holdfast.Server.Logging;

namespace Holdfast.Server.Tests;

public class ConfigParserTests
{
    private static HoldfastConfig Parse(string text) => ConfigParser.Parse(text, "holdfast.conf");

    [Fact]
    public void Default_has_one_local_only_listener_that_allows_anonymous()
    {
        var config = HoldfastConfig.Default();

        var listener = Assert.Single(config.Listeners);
        Assert.True(listener.LocalOnly);
        Assert.Equal(1883, listener.Port);
        Assert.Null(listener.BindAddress);
        Assert.True(config.EffectiveAllowAnonymous(listener));
    }

    [Fact]
    public void Empty_file_gives_Mosquitto_defaults()
    {
        var config = Parse("");

        var listener = Assert.Single(config.Listeners);
        Assert.True(listener.LocalOnly);
        Assert.True(config.EffectiveAllowAnonymous(listener));
        Assert.Equal(LogType.Error | LogType.Warning | LogType.Notice | LogType.Information, config.LogTypes);
        Assert.Equal([LogDestination.Stderr], config.LogDestinations);
        Assert.True(config.Persistence);
        Assert.Null(config.PersistenceLocation);
        Assert.False(config.PerListenerSettings);
        Assert.True(config.Broker.ConnectionMessages);
        Assert.True(config.LogTimestamp);
        Assert.Null(config.LogTimestampFormat);
        Assert.Equal(10, config.SysInterval);
        Assert.Null(config.AllowAnonymous);
        Assert.Equal(20, config.Broker.MaxInflightMessages);
        Assert.Equal(1000, config.Broker.MaxQueuedMessages);
        Assert.Equal(QueueFullPolicy.EndSession, config.Broker.QueueFullPolicy);
        Assert.Equal(TimeSpan.FromSeconds(60), listener.AckTimeout);
        Assert.True(listener.AckTimeoutDisconnect);
        // With the store on (the default), queues are bounded in bytes on disk once the server applies the defaults.
        config.QueueLimits();
        Assert.Equal(0, config.Broker.MaxQueuedMessages);
        Assert.Equal(HoldfastConfig.DefaultQueuedBytes, config.Broker.MaxQueuedBytes);
        Assert.Equal(HoldfastConfig.DefaultQueuedBytesTotal, config.Broker.MaxQueuedBytesTotal);
    }

    [Fact]
    public void Queue_limits_keep_Mosquittos_defaults_without_persistence_and_what_the_file_set()
    {
        var memory = Parse("persistence false\n");
        memory.QueueLimits();
        Assert.Equal(1000, memory.Broker.MaxQueuedMessages);
        Assert.Equal(0, memory.Broker.MaxQueuedBytes);
        Assert.Equal(0, memory.Broker.MaxQueuedBytesTotal);

        var set = Parse("max_queued_messages 500\nmax_queued_bytes_total 1000000\n");
        set.QueueLimits();
        Assert.Equal(500, set.Broker.MaxQueuedMessages);
        Assert.Equal(0, set.Broker.MaxQueuedBytes);
        Assert.Equal(1000000, set.Broker.MaxQueuedBytesTotal);
    }

    [Fact]
    public void Comments_blank_lines_and_surrounding_whitespace_are_ignored()
    {
        var config = Parse("# a comment\n\n   \t\n   max_inflight_messages 5   \r\n\t# indented comment\n");

        Assert.Equal(5, config.Broker.MaxInflightMessages);
    }

    /// <summary>As Mosquitto, which reads one word for such a value and ignores the rest of the line.</summary>
    [Fact]
    public void A_comment_after_a_one_word_value_is_ignored()
    {
        var config = Parse("persistence false # in memory\nmax_inflight_messages 10   # per client\nallow_anonymous true #\n");
        Assert.False(config.Persistence);
        Assert.Equal(10, config.Broker.MaxInflightMessages);
        Assert.True(config.AllowAnonymous);
    }

    /// <summary>Mosquitto directives at the value Holdfast always has load, each noted once for the startup log.</summary>
    [Fact]
    public void Mosquitto_directives_at_holdfasts_own_value_are_accepted_and_noted()
    {
        var config = Parse("set_tcp_nodelay true\nmemory_limit 0\nupgrade_outgoing_qos false\n");
        Assert.Equal(3, config.NoEffect.Count);
        Assert.StartsWith("set_tcp_nodelay true (holdfast.conf:1): ", config.NoEffect[0]);
        Assert.StartsWith("memory_limit 0 (holdfast.conf:2): ", config.NoEffect[1]);
        Assert.StartsWith("upgrade_outgoing_qos false (holdfast.conf:3): ", config.NoEffect[2]);
    }

    [Fact]
    public void Listener_block_collects_the_keys_that_follow_it()
    {
        var config = Parse("""
            # header
            listener 8883 10.0.0.1
            protocol websockets
            max_connections 50
            certfile /etc/holdfast/server.crt
            keyfile /etc/holdfast/server.key
            cafile /etc/holdfast/ca.crt
            capath /etc/ssl/certs
            require_certificate true
            use_identity_as_username true
            use_subject_as_username false
            crlfile /etc/holdfast/crl.pem
            tls_version tlsv1.2
            ack_timeout 30
            ack_timeout_action disconnect
            """);

        var listener = Assert.Single(config.Listeners);
        Assert.Equal(8883, listener.Port);
        Assert.Equal("10.0.0.1", listener.BindAddress);
        Assert.False(listener.LocalOnly);
        Assert.Equal("websockets", listener.Protocol);
        Assert.Equal(50, listener.MaxConnections);
        Assert.Equal("/etc/holdfast/server.crt", listener.CertFile);
        Assert.Equal("/etc/holdfast/server.key", listener.KeyFile);
        Assert.Equal("/etc/holdfast/ca.crt", listener.CaFile);
        Assert.Equal("/etc/ssl/certs", listener.CaPath);
        Assert.True(listener.RequireCertificate);
        Assert.True(listener.UseIdentityAsUsername);
        Assert.False(listener.UseSubjectAsUsername);
        Assert.Equal("/etc/holdfast/crl.pem", listener.CrlFile);
        Assert.Equal("tlsv1.2", listener.TlsVersion);
        Assert.Equal(TimeSpan.FromSeconds(30), listener.AckTimeout);
        Assert.True(listener.AckTimeoutDisconnect);
        Assert.Equal("holdfast.conf", listener.File);
        Assert.Equal(2, listener.Line);
    }

    [Fact]
    public void Explicit_listener_without_address_binds_all_interfaces_and_denies_anonymous()
    {
        var config = Parse("listener 1883");

        var listener = Assert.Single(config.Listeners);
        Assert.Null(listener.BindAddress);
        Assert.False(listener.LocalOnly);
        Assert.Equal("mqtt", listener.Protocol);
        Assert.Equal(-1, listener.MaxConnections);
        Assert.Equal(HoldfastConfig.DefaultAckTimeout, listener.AckTimeout);
        Assert.True(listener.AckTimeoutDisconnect);
        Assert.False(config.EffectiveAllowAnonymous(listener));
    }

    [Fact]
    public void Several_listeners_keep_their_own_settings()
    {
        var config = Parse("""
            listener 1883 127.0.0.1
            max_connections 10
            listener 1884
            protocol websockets
            listener 1885 ::1
            """);

        Assert.Equal([1883, 1884, 1885], config.Listeners.Select(l => l.Port));
        Assert.Equal([10, -1, -1], config.Listeners.Select(l => l.MaxConnections));
        Assert.Equal(["mqtt", "websockets", "mqtt"], config.Listeners.Select(l => l.Protocol));
        Assert.Equal(["127.0.0.1", null, "::1"], config.Listeners.Select(l => l.BindAddress));
        Assert.Equal([1, 3, 5], config.Listeners.Select(l => l.Line));
    }

    [Fact]
    public void Port_and_bind_address_describe_the_default_listener()
    {
        var config = Parse("port 1999\nbind_address 192.168.1.5\nmax_connections 7\nlistener 2000");

        Assert.Equal(2, config.Listeners.Count);
        var first = config.Listeners[0];
        Assert.Equal(1999, first.Port);
        Assert.Equal("192.168.1.5", first.BindAddress);
        Assert.Equal(7, first.MaxConnections);
        Assert.False(first.LocalOnly);
        Assert.Equal(1, first.Line);
        Assert.Equal(2000, config.Listeners[1].Port);
    }

    [Fact]
    public void A_listener_setting_before_any_listener_creates_the_default_listener_as_Mosquitto_does()
    {
        var config = Parse("max_connections 100");

        var listener = Assert.Single(config.Listeners);
        Assert.Equal(1883, listener.Port);
        Assert.Null(listener.BindAddress);
        Assert.False(listener.LocalOnly);
        Assert.Equal(100, listener.MaxConnections);
    }

    [Fact]
    public void Global_ack_timeout_is_inherited_by_listeners_that_do_not_set_their_own()
    {
        var config = Parse("""
            ack_timeout 60
            ack_timeout_action disconnect
            listener 1883
            listener 1884
            ack_timeout 5
            ack_timeout_action log
            listener 1885
            ack_timeout 0
            """);

        Assert.Equal(TimeSpan.FromSeconds(60), config.AckTimeout);
        Assert.True(config.AckTimeoutDisconnect);
        Assert.Equal([TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(5), null], config.Listeners.Select(l => l.AckTimeout));
        Assert.Equal([true, false, true], config.Listeners.Select(l => l.AckTimeoutDisconnect));
    }

    [Fact]
    public void Local_only_listener_inherits_global_ack_timeout()
    {
        var config = Parse("ack_timeout 15");

        var listener = Assert.Single(config.Listeners);
        Assert.True(listener.LocalOnly);
        Assert.Equal(TimeSpan.FromSeconds(15), listener.AckTimeout);
    }

    [Fact]
    public void Allow_anonymous_is_global_without_per_listener_settings()
    {
        var config = Parse("listener 1883\nallow_anonymous true\nlistener 1884");

        Assert.True(config.AllowAnonymous);
        Assert.All(config.Listeners, l => Assert.Null(l.AllowAnonymous));
        Assert.All(config.Listeners, l => Assert.True(config.EffectiveAllowAnonymous(l)));
    }

    [Fact]
    public void Allow_anonymous_false_applies_even_to_the_local_only_listener()
    {
        var config = Parse("allow_anonymous false");

        Assert.False(config.EffectiveAllowAnonymous(Assert.Single(config.Listeners)));
    }

    [Fact]
    public void Per_listener_settings_puts_security_keys_on_each_listener()
    {
        var config = Parse("""
            per_listener_settings true
            listener 1883
            allow_anonymous true
            password_file /etc/holdfast/a.pw
            acl_file /etc/holdfast/a.acl
            listener 1884
            """);

        Assert.True(config.PerListenerSettings);
        Assert.Null(config.AllowAnonymous);
        var (open, closed) = (config.Listeners[0], config.Listeners[1]);
        Assert.True(config.EffectiveAllowAnonymous(open));
        Assert.False(config.EffectiveAllowAnonymous(closed));
        Assert.Equal("/etc/holdfast/a.pw", config.EffectivePasswordFile(open));
        Assert.Equal("/etc/holdfast/a.acl", config.EffectiveAclFile(open));
        Assert.Null(config.EffectivePasswordFile(closed));
        Assert.Null(config.EffectiveAclFile(closed));
    }

    [Fact]
    public void Global_password_and_acl_files_apply_to_every_listener()
    {
        var config = Parse("password_file /p\nacl_file /a\nlistener 1883\nlistener 1884");

        Assert.All(config.Listeners, l => Assert.Equal("/p", config.EffectivePasswordFile(l)));
        Assert.All(config.Listeners, l => Assert.Equal("/a", config.EffectiveAclFile(l)));
    }

    [Fact]
    public void Broker_keys_fill_BrokerOptions()
    {
        var config = Parse("""
            max_inflight_messages 0
            max_queued_messages 5000
            max_queued_bytes 10000000000
            max_keepalive 120
            message_size_limit 1048576
            max_packet_size 2097152
            persistent_client_expiration 2h
            retain_available false
            queue_qos0_messages true
            allow_zero_length_clientid false
            max_topic_alias 0
            retry_interval_v311 20
            queue_full_policy drop_oldest
            receive_maximum 65535
            """);

        var broker = config.Broker;
        Assert.Equal(0, broker.MaxInflightMessages);
        Assert.Equal(5000, broker.MaxQueuedMessages);
        Assert.Equal(10_000_000_000, broker.MaxQueuedBytes);
        Assert.Equal(120, broker.MaxKeepAlive);
        Assert.Equal(1048576, broker.MessageSizeLimit);
        Assert.Equal(2097152, broker.MaxPacketSize);
        Assert.Equal(TimeSpan.FromHours(2), broker.PersistentClientExpiration);
        Assert.False(broker.RetainAvailable);
        Assert.True(broker.QueueQos0Messages);
        Assert.False(broker.AllowZeroLengthClientId);
        Assert.Equal(0, broker.TopicAliasMaximum);
        Assert.Equal(TimeSpan.FromSeconds(20), broker.RetryIntervalV311);
        Assert.Equal(QueueFullPolicy.DropOldest, broker.QueueFullPolicy);
        Assert.Equal((ushort)65535, broker.ReceiveMaximum);
    }

    [Theory]
    [InlineData("block", QueueFullPolicy.Block)]
    [InlineData("drop_new", QueueFullPolicy.DropNew)]
    [InlineData("drop_oldest", QueueFullPolicy.DropOldest)]
    public void Queue_full_policy_values(string word, QueueFullPolicy expected) =>
        Assert.Equal(expected, Parse($"queue_full_policy {word}").Broker.QueueFullPolicy);

    [Theory]
    [InlineData("sync", Holdfast.Storage.RocksDb.Durability.Sync)]
    [InlineData("os", Holdfast.Storage.RocksDb.Durability.Os)]
    [InlineData("memory", Holdfast.Storage.RocksDb.Durability.Memory)]
    public void Durability_levels(string word, Holdfast.Storage.RocksDb.Durability expected) =>
        Assert.Equal(expected, Parse($"durability {word}").Durability);

    [Fact]
    public void The_store_is_on_by_default_in_holdfast_db_under_persistence_location()
    {
        var defaults = Parse("");
        Assert.True(defaults.Persistence);
        Assert.Equal(Holdfast.Storage.RocksDb.Durability.Sync, defaults.Durability);
        Assert.Equal(Path.GetFullPath("holdfast.db"), defaults.DataDirectory);
        Assert.Equal(Path.GetFullPath("/var/lib/mosquitto/holdfast.db"), Parse("persistence_location /var/lib/mosquitto/").DataDirectory);
        Assert.False(Parse("persistence false").Persistence);
    }

    [Fact]
    public void Store_memory_defaults_are_small_memtables_and_cache()
    {
        var store = Parse("").Store;
        Assert.Equal(8L << 20, store.WriteBufferSize);
        Assert.Equal(8L << 20, store.CacheSize);
    }

    [Theory]
    [InlineData("65536", 65536L)]
    [InlineData("64k", 64L << 10)]
    [InlineData("64K", 64L << 10)]
    [InlineData("16M", 16L << 20)]
    [InlineData("16m", 16L << 20)]
    [InlineData("2G", 2L << 30)]
    [InlineData("64G", 64L << 30)]
    public void Store_write_buffer_size_takes_bytes_or_a_unit(string word, long bytes) =>
        Assert.Equal(bytes, Parse($"store_write_buffer_size {word}").Store.WriteBufferSize);

    [Theory]
    [InlineData("0", 0L)]
    [InlineData("1", 1L)]
    [InlineData("512k", 512L << 10)]
    [InlineData("1G", 1L << 30)]
    public void Store_cache_size_takes_bytes_or_a_unit(string word, long bytes) =>
        Assert.Equal(bytes, Parse($"store_cache_size {word}").Store.CacheSize);

    [Fact]
    public void Retry_interval_zero_means_off() =>
        Assert.Null(Parse("retry_interval_v311 0").Broker.RetryIntervalV311);

    [Theory]
    [InlineData("2h", 2)]
    [InlineData("14d", 14 * 24)]
    [InlineData("1w", 7 * 24)]
    [InlineData("1m", 30 * 24)]
    [InlineData("1y", 365 * 24)]
    public void Persistent_client_expiration_uses_Mosquitto_duration_units(string value, int hours) =>
        Assert.Equal(TimeSpan.FromHours(hours), Parse($"persistent_client_expiration {value}").Broker.PersistentClientExpiration);

    [Fact]
    public void Metrics_listener_is_off_by_default_and_binds_loopback_unless_told()
    {
        Assert.Null(Parse("").MetricsListener);
        var local = Parse("metrics_listener 9090").MetricsListener!;
        Assert.Equal((9090, System.Net.IPAddress.Loopback), (local.Port, local.Address));
        var wide = Parse("metrics_listener 9100 0.0.0.0").MetricsListener!;
        Assert.Equal((9100, System.Net.IPAddress.Any), (wide.Port, wide.Address));
    }

    [Fact]
    public void Persistence_logging_and_process_keys_are_stored()
    {
        var config = Parse("""
            persistence false
            persistence_location /var/lib/holdfast data/
            persistence_file holdfast.db
            autosave_interval 60
            autosave_on_changes false
            log_timestamp false
            log_timestamp_format %Y-%m-%dT%H:%M:%S
            connection_messages false
            sys_interval 0
            user holdfast
            pid_file /run/holdfast.pid
            """);

        Assert.False(config.Persistence);
        Assert.Equal("/var/lib/holdfast data/", config.PersistenceLocation);
        Assert.Equal("holdfast.db", config.PersistenceFile);
        Assert.Equal(60, config.AutosaveInterval);
        Assert.False(config.LogTimestamp);
        Assert.Equal("%Y-%m-%dT%H:%M:%S", config.LogTimestampFormat);
        Assert.False(config.Broker.ConnectionMessages);
        Assert.Equal(0, config.SysInterval);
        Assert.Equal("holdfast", config.User);
        Assert.Equal("/run/holdfast.pid", config.PidFile);
    }

    [Fact]
    public void Timestamp_format_may_contain_spaces() =>
        Assert.Equal("%Y-%m-%d %H:%M:%S", Parse("log_timestamp_format %Y-%m-%d %H:%M:%S").LogTimestampFormat);

    [Fact]
    public void Bools_accept_Mosquittos_one_and_zero()
    {
        Assert.True(Parse("queue_qos0_messages 1").Broker.QueueQos0Messages);
        Assert.False(Parse("retain_available 0").Broker.RetainAvailable);
    }

    [Fact]
    public void Log_type_lines_replace_the_default_and_accumulate()
    {
        Assert.Equal(LogType.Error | LogType.Subscribe, Parse("log_type error\nlog_type subscribe").LogTypes);
        Assert.Equal(LogType.All, Parse("log_type all").LogTypes);
        Assert.Equal(LogType.None, Parse("log_type none").LogTypes);
        Assert.Equal(LogType.Debug | LogType.WebSockets | LogType.Unsubscribe | LogType.Warning | LogType.Notice | LogType.Information,
            Parse("log_type debug\nlog_type websockets\nlog_type unsubscribe\nlog_type warning\nlog_type notice\nlog_type information").LogTypes);
    }

    [Fact]
    public void Log_dest_lines_replace_the_default_and_accumulate()
    {
        var config = Parse("log_dest stdout\nlog_dest file /var/log/holdfast/holdfast.log\nlog_dest stdout");

        Assert.Equal([LogDestination.Stdout, LogDestination.File("/var/log/holdfast/holdfast.log")], config.LogDestinations);
        Assert.Empty(Parse("log_dest none").LogDestinations);
        Assert.Equal([LogDestination.Stderr], Parse("log_dest stderr").LogDestinations);
    }

    [Fact]
    public void Later_lines_override_earlier_ones() =>
        Assert.Equal(7, Parse("max_inflight_messages 3\nmax_inflight_messages 7").Broker.MaxInflightMessages);

    [Fact]
    public void ParseFile_reads_from_disk()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("holdfast.conf", "listener 1883\nmax_queued_messages 9\n");

        var config = ConfigParser.ParseFile(path);

        Assert.Equal(9, config.Broker.MaxQueuedMessages);
        Assert.Equal(path, config.Listeners[0].File);
    }
}
