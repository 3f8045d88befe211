using Holdfast.Server.Configuration;

namespace Holdfast.Server.Tests;

public class ConfigErrorTests
{
    private static ConfigException Fails(string text) =>
        Assert.Throws<ConfigException>(() => ConfigParser.Parse(text, "holdfast.conf"));

    [Fact]
    public void Metrics_listener_on_an_MQTT_listener_port_names_its_line() =>
        Assert.Equal("holdfast.conf:3: metrics_listener: port 1883 is already an MQTT listener's port",
            Fails("listener 1883\nallow_anonymous true\nmetrics_listener 1883\n").Message);

    [Fact]
    public void Unknown_directive_names_file_line_and_key()
    {
        var error = Fails("# comment\n\nlistener 1883\n\n\n\nmax_inflight 10\n");

        Assert.Equal("holdfast.conf:7: unknown directive 'max_inflight'", error.Message);
        Assert.Equal("holdfast.conf", error.File);
        Assert.Equal(7, error.Line);
        Assert.Equal("unknown directive 'max_inflight'", error.Reason);
    }

    [Fact]
    public void An_unknown_durability_level_names_the_choices() =>
        Assert.Equal("holdfast.conf:2: durability: 'fast' is not one of sync, os, memory", Fails("persistence true\ndurability fast\n").Message);

    [Fact]
    public void Keys_are_case_sensitive_as_in_Mosquitto() =>
        Assert.Equal("holdfast.conf:1: unknown directive 'Persistence'", Fails("Persistence true").Message);

    [Theory]
    [InlineData("connection bridge-1")]
    [InlineData("auth_plugin /usr/lib/auth.so")]
    [InlineData("plugin_opt_host db")]
    [InlineData("bridge_protocol_version mqttv50")]
    [InlineData("mount_point site1/")]
    [InlineData("psk_file /etc/mosquitto/psk")]
    [InlineData("websockets_log_level 255")]
    [InlineData("auth_opt_backends mysql")]
    public void Mosquitto_directives_Holdfast_lacks_are_named_as_such(string line)
    {
        var key = line.Split(' ')[0];
        // Each says what to do instead.
        Assert.Matches($"^holdfast\\.conf:1: '{System.Text.RegularExpressions.Regex.Escape(key)}' is a Mosquitto directive that Holdfast does not support: .{{10,}}$", Fails(line).Message);
    }

    [Theory]
    [InlineData("psk_file /etc/mosquitto/psk")]
    [InlineData("psk_hint hint")]
    public void TLS_PSK_is_refused_naming_the_reason(string line) =>
        Assert.Equal($"holdfast.conf:1: '{line.Split(' ')[0]}' is a Mosquitto directive that Holdfast does not support: TLS-PSK is not "
            + "supported: .NET's TLS (SslStream) has no pre-shared key support; use certificates (cafile, require_certificate, "
            + "use_identity_as_username)", Fails(line).Message);

    /// <summary>Mosquitto directives at a value Holdfast does not have are refused saying what to do instead.</summary>
    [Theory]
    [InlineData("set_tcp_nodelay false", "set_tcp_nodelay: Holdfast always sets TCP_NODELAY (it writes once per batch of packets); remove the line")]
    [InlineData("memory_limit 1000000", "memory_limit: not supported; bound what queues hold with max_queued_bytes and max_queued_bytes_total")]
    [InlineData("upgrade_outgoing_qos true", "upgrade_outgoing_qos: not supported: Holdfast delivers at the QoS of the message, at most the subscription's")]
    public void Mosquitto_directives_at_a_value_Holdfast_lacks_say_what_to_do(string line, string reason) =>
        Assert.Equal($"holdfast.conf:1: {reason}", Fails(line).Message);

    /// <summary>Every line is read: a file with several mistakes reports them all at once, in order, each with its line
    /// (a bridge config once took 14 edit-and-restart cycles, one error per start).</summary>
    [Fact]
    public void Every_error_is_reported_in_one_pass()
    {
        var e = Fails("allow_anonymous true\nmax_inflight_messages lots\nno_such_directive 5\npersistence true\nconnection up\nlog_dest carrier_pigeon\n");
        Assert.Equal([
            "holdfast.conf:2: max_inflight_messages: 'lots' is not a number",
            "holdfast.conf:3: unknown directive 'no_such_directive'",
            "holdfast.conf:5: 'connection' is a Mosquitto directive that Holdfast does not support: bridges are not supported yet; keep the bridge on a Mosquitto broker for now",
            "holdfast.conf:6: log_dest: 'carrier_pigeon' is not one of stdout, stderr, file, none",
        ], e.Errors.Select(x => x.Message));
    }

    [Fact]
    public void A_bad_store_size_names_its_line() =>
        Assert.Equal("holdfast.conf:2: store_write_buffer_size: unexpected extra value 'M'",
            Fails("persistence true\nstore_write_buffer_size 8 M\n").Message);

    [Fact]
    public void Non_number() =>
        Assert.Equal("holdfast.conf:3: max_queued_messages: 'abc' is not a number",
            Fails("listener 1883\n\nmax_queued_messages abc").Message);

    [Theory]
    [InlineData("max_inflight_messages 65536", "max_inflight_messages: 65536 is out of range (0..65535)")]
    [InlineData("max_inflight_messages -1", "max_inflight_messages: -1 is out of range (0..65535)")]
    [InlineData("max_keepalive 65536", "max_keepalive: 65536 is out of range (0..65535)")]
    [InlineData("max_queued_messages -5", "max_queued_messages: -5 is out of range (0..2147483647)")]
    [InlineData("max_queued_bytes -1", "max_queued_bytes: -1 is out of range (0..9223372036854775807)")]
    [InlineData("message_size_limit 268435456", "message_size_limit: 268435456 is out of range (0..268435455)")]
    [InlineData("max_packet_size 19", "max_packet_size: 19 is out of range (20..268435460)")]
    [InlineData("receive_maximum 0", "receive_maximum: 0 is out of range (1..65535)")]
    [InlineData("max_topic_alias 70000", "max_topic_alias: 70000 is out of range (0..65535)")]
    [InlineData("port 0", "port: 0 is out of range (1..65535)")]
    [InlineData("port 65536", "port: 65536 is out of range (1..65535)")]
    [InlineData("listener 0", "listener: port 0 needs a unix socket path (listener 0 /run/holdfast/holdfast.sock)")]
    [InlineData("listener 70000 127.0.0.1", "listener: port 70000 is out of range (1..65535)")]
    [InlineData("listener abc", "listener: 'abc' is not a number")]
    [InlineData("ack_timeout -1", "ack_timeout: -1 is out of range (0..2147483647)")]
    [InlineData("sys_interval 99999", "sys_interval: 99999 is out of range (0..65535)")]
    [InlineData("metrics_listener", "metrics_listener: missing port")]
    [InlineData("metrics_listener 0", "metrics_listener: port 0 is out of range (1..65535)")]
    [InlineData("metrics_listener http", "metrics_listener: 'http' is not a number")]
    [InlineData("metrics_listener 9090 localhost", "metrics_listener: 'localhost' is not an IP address")]
    [InlineData("metrics_listener 9090 0.0.0.0 x", "metrics_listener: unexpected extra value 'x'")]
    [InlineData("max_connections -2", "max_connections: -2 is out of range (-1..2147483647)")]
    [InlineData("max_connections 0", "max_connections: 0 would refuse every client; use -1 for unlimited")]
    [InlineData("max_queued_messages 99999999999", "max_queued_messages: 99999999999 is out of range (0..2147483647)")]
    [InlineData("max_queued_bytes 99999999999999999999", "max_queued_bytes: 99999999999999999999 is out of range (0..9223372036854775807)")]
    [InlineData("max_inflight_messages 1.5", "max_inflight_messages: '1.5' is not a number")]
    [InlineData("store_write_buffer_size 65535", "store_write_buffer_size: 65535 is out of range (64k..64G)")]
    [InlineData("store_write_buffer_size 65G", "store_write_buffer_size: 65G is out of range (64k..64G)")]
    [InlineData("store_write_buffer_size 0", "store_write_buffer_size: 0 is out of range (64k..64G)")]
    [InlineData("store_cache_size 99999999999999999999G", "store_cache_size: 99999999999999999999G is out of range (0..64G)")]
    [InlineData("store_cache_size 8MB", "store_cache_size: '8MB' is not a size (bytes, or a whole number followed by k, M or G, e.g. 8M)")]
    [InlineData("store_cache_size -1", "store_cache_size: '-1' is not a size (bytes, or a whole number followed by k, M or G, e.g. 8M)")]
    [InlineData("store_cache_size 1.5M", "store_cache_size: '1.5M' is not a size (bytes, or a whole number followed by k, M or G, e.g. 8M)")]
    [InlineData("store_cache_size M", "store_cache_size: 'M' is not a size (bytes, or a whole number followed by k, M or G, e.g. 8M)")]
    public void Out_of_range(string line, string reason) =>
        Assert.Equal($"holdfast.conf:1: {reason}", Fails(line).Message);

    [Theory]
    [InlineData("persistence yes", "persistence: 'yes' is not true or false")]
    [InlineData("allow_anonymous True", "allow_anonymous: 'True' is not true or false")]
    [InlineData("protocol mqtts", "protocol: 'mqtts' is not one of mqtt, websockets")]
    [InlineData("queue_full_policy drop", "queue_full_policy: 'drop' is not one of end_session, block, drop_new, drop_oldest")]
    [InlineData("ack_timeout_action kill", "ack_timeout_action: 'kill' is not one of log, disconnect")]
    [InlineData("tls_version tlsv1", "tls_version: 'tlsv1' is not one of tlsv1.3, tlsv1.2, tlsv1.1")]
    [InlineData("log_type verbose", "log_type: 'verbose' is not one of debug, error, warning, notice, information, subscribe, unsubscribe, websockets, none, all")]
    [InlineData("log_dest printer", "log_dest: 'printer' is not one of stdout, stderr, file, none")]
    [InlineData("persistent_client_expiration 14", "persistent_client_expiration: '14' needs a unit: h, d, w, m or y (e.g. 14d)")]
    [InlineData("persistent_client_expiration d", "persistent_client_expiration: 'd' is not a duration (a whole number followed by h, d, w, m or y, e.g. 14d)")]
    [InlineData("persistent_client_expiration -2d", "persistent_client_expiration: '-2d' is not a duration (a whole number followed by h, d, w, m or y, e.g. 14d)")]
    [InlineData("persistent_client_expiration 0d", "persistent_client_expiration: '0d' is not a duration (a whole number followed by h, d, w, m or y, e.g. 14d)")]
    [InlineData("persistent_client_expiration 99999999y", "persistent_client_expiration: '99999999y' is too long")]
    [InlineData("persistent_client_expiration 3s", "persistent_client_expiration: '3s' has an unknown unit 's' (use h, d, w, m or y)")]
    [InlineData("log_timestamp_format %Y %Q", "log_timestamp_format: unsupported conversion '%Q' in timestamp format (Holdfast supports %Y %m %d %H %M %S %z %F %T %s %%)")]
    [InlineData("log_timestamp_format %H:%", "log_timestamp_format: timestamp format ends with a lone '%'")]
    public void Bad_values(string line, string reason) =>
        Assert.Equal($"holdfast.conf:1: {reason}", Fails(line).Message);

    [Theory]
    [InlineData("max_queued_messages", "max_queued_messages: missing value")]
    [InlineData("password_file", "password_file: missing value")]
    [InlineData("listener", "listener: missing port")]
    [InlineData("log_dest", "log_dest: missing value")]
    [InlineData("log_dest file", "log_dest: file needs a path")]
    [InlineData("include_dir", "include_dir: missing value")]
    [InlineData("store_cache_size", "store_cache_size: missing value")]
    public void Missing_values(string line, string reason) =>
        Assert.Equal($"holdfast.conf:1: {reason}", Fails(line).Message);

    [Theory]
    [InlineData("max_queued_messages 10 20", "max_queued_messages: unexpected extra value '20'")]
    [InlineData("listener 1883 0.0.0.0 extra", "listener: unexpected extra value 'extra'")]
    [InlineData("log_dest stdout stderr", "log_dest: unexpected extra value 'stderr'")]
    public void Extra_values(string line, string reason) =>
        Assert.Equal($"holdfast.conf:1: {reason}", Fails(line).Message);

    [Theory]
    [InlineData("topic")]
    [InlineData("dlt")]
    public void Unsupported_log_destinations_say_so(string destination) =>
        Assert.Equal($"holdfast.conf:1: log_dest: '{destination}' is not supported by Holdfast (use stdout, stderr, file PATH or syslog)",
            Fails($"log_dest {destination}").Message);

    [Fact]
    public void Per_listener_security_key_before_any_listener_is_refused() =>
        Assert.Equal("holdfast.conf:2: allow_anonymous: per_listener_settings is true, so this must follow the listener it applies to",
            Fails("per_listener_settings true\nallow_anonymous true\nlistener 1883").Message);

    [Fact]
    public void Per_listener_settings_after_a_security_key_is_refused() =>
        Assert.Equal("holdfast.conf:3: per_listener_settings: must come before any allow_anonymous, password_file, acl_file or plugin line",
            Fails("listener 1883\nallow_anonymous true\nper_listener_settings true").Message);

    [Fact]
    public void Missing_file_names_the_file()
    {
        var path = Path.Combine(Path.GetTempPath(), "holdfast-no-such-" + Guid.NewGuid().ToString("N") + ".conf");

        var error = Assert.Throws<ConfigException>(() => ConfigParser.ParseFile(path));

        Assert.Equal(path, error.File);
        Assert.Equal(0, error.Line);
        Assert.StartsWith($"{path}: cannot read config file: ", error.Message);
    }
}
