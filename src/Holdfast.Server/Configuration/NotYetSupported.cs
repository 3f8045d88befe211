namespace Holdfast.Server.Configuration;

/// <summary>
/// Directives that parse (they are Mosquitto's, and later work enforces them) but that this version cannot honour.
/// Starting anyway would be worse than refusing: a listener meant for TLS would serve cleartext, an ACL would not
/// apply. So startup stops naming the line (DESIGN.md §5: never silently ignored).
/// </summary>
public static class NotYetSupported
{
    private static readonly (string Key, string Reason)[] Directives =
    [
        ("certfile", "TLS listeners are not supported yet"),
        ("keyfile", "TLS listeners are not supported yet"),
        ("cafile", "TLS listeners are not supported yet"),
        ("capath", "TLS listeners are not supported yet"),
        ("require_certificate", "TLS listeners are not supported yet"),
        ("use_identity_as_username", "TLS listeners are not supported yet"),
        ("tls_version", "TLS listeners are not supported yet"),
        ("password_file", "password files are not supported yet"),
        ("acl_file", "ACL files are not supported yet"),
    ];

    /// <summary>Throws <see cref="ConfigException"/> for the first directive this version cannot honour.</summary>
    public static void Check(HoldfastConfig config)
    {
        foreach (var (key, reason) in Directives)
            if (config.Locations.TryGetValue(key, out var at))
                throw new ConfigException(at.File, at.Line, $"{key}: {reason}");
        if (config.SysInterval > 0 && config.Locations.TryGetValue("sys_interval", out var sys))
            throw new ConfigException(sys.File, sys.Line, "sys_interval: $SYS topics are not published yet (set 0 or remove the line)");
        foreach (var listener in config.Listeners)
            if (listener.Protocol != "mqtt")
                throw new ConfigException(listener.File, listener.Line, $"protocol {listener.Protocol}: only mqtt listeners are supported yet");
    }
}
