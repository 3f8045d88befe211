namespace Holdfast.Server.Configuration;

/// <summary>One network listener: Mosquitto's <c>listener PORT [BIND_ADDRESS]</c> block and the keys that follow it.</summary>
public sealed class ListenerConfig
{
    public int Port { get; set; } = 1883;

    /// <summary>The address or host name to bind. Null binds every interface, as Mosquitto does for
    /// <c>listener 1883</c> with no address — unless <see cref="LocalOnly"/> is set.</summary>
    public string? BindAddress { get; set; }

    /// <summary>Mosquitto's <c>listener 0 PATH</c>: a Unix domain socket at PATH instead of a TCP port.</summary>
    public string? UnixSocketPath { get; set; }

    /// <summary>
    /// True only for the listener Holdfast makes when no listener is configured at all (no config file, or a
    /// config file without listener/port/bind_address): it binds 127.0.0.1 and ::1 only, and allows anonymous
    /// clients unless allow_anonymous says otherwise — Mosquitto 2's "local only mode".
    /// </summary>
    public bool LocalOnly { get; set; }

    /// <summary>"mqtt" (default) or "websockets".</summary>
    public string Protocol { get; set; } = "mqtt";

    /// <summary>max_connections: -1 = unlimited.</summary>
    public int MaxConnections { get; set; } = -1;

    /// <summary>allow_anonymous set inside this listener's block with per_listener_settings true; null = not set here.
    /// Use <see cref="HoldfastConfig.EffectiveAllowAnonymous"/> to decide.</summary>
    public bool? AllowAnonymous { get; set; }

    /// <summary>password_file for this listener (per_listener_settings true only).</summary>
    public string? PasswordFile { get; set; }

    /// <summary>acl_file for this listener (per_listener_settings true only).</summary>
    public string? AclFile { get; set; }

    /// <summary>Dynamic security for this listener (per_listener_settings true only).</summary>
    public DynamicSecurityConfig? DynamicSecurity { get; set; }

    /// <summary>ack_timeout (Holdfast): how long a QoS 1/2 delivery may wait for PUBACK/PUBREC/PUBCOMP before the
    /// broker reacts. Null = off. Inherits the global ack_timeout when the block does not set one.</summary>
    public TimeSpan? AckTimeout { get; set; } = HoldfastConfig.DefaultAckTimeout;

    /// <summary>ack_timeout_action (Holdfast): false = log and count; true (default) = also disconnect the client so
    /// that the reconnect-and-redeliver path runs.</summary>
    public bool AckTimeoutDisconnect { get; set; } = true;

    // TLS (Tls/ListenerTls.cs): a listener with certfile and keyfile serves TLS.
    public string? CertFile { get; set; }
    public string? KeyFile { get; set; }
    public string? CaFile { get; set; }
    public string? CaPath { get; set; }
    public bool RequireCertificate { get; set; }
    public bool UseIdentityAsUsername { get; set; }
    public bool UseSubjectAsUsername { get; set; }

    /// <summary>Mosquitto's max_qos (or maximum_qos): the highest QoS this listener's clients may use.</summary>
    public int MaxQoS { get; set; } = 2;
    /// <summary>crlfile: the PEM CRLs client certificates are checked against.</summary>
    public string? CrlFile { get; set; }

    /// <summary>The user name comes from the client certificate (CN or whole subject), not from CONNECT.</summary>
    public bool UsernameFromCertificate => UseIdentityAsUsername || UseSubjectAsUsername;

    /// <summary>tls_version as written (tlsv1.1, tlsv1.2 or tlsv1.3); null = library default.</summary>
    public string? TlsVersion { get; set; }

    /// <summary>Where the listener was declared, for messages such as "cannot bind port 1883 (holdfast.conf:12)".</summary>
    public string File { get; set; } = "";

    public int Line { get; set; }

    /// <summary>Where each listener-scoped key was set in this listener's block (the last line wins), for errors found
    /// after parsing, e.g. a certfile that cannot be read.</summary>
    public Dictionary<string, (string File, int Line)> Locations { get; } = new(StringComparer.Ordinal);

    public override string ToString() =>
        LocalOnly ? $"localhost:{Port}" : $"{BindAddress ?? "*"}:{Port} ({Protocol})";
}
