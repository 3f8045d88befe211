namespace Holdfast.Server.Configuration;

/// <summary>
/// Directives that parse (they are Mosquitto's, and later work enforces them) but that this version cannot honour.
/// Starting anyway would be worse than refusing: a listener meant for TLS would serve cleartext, an ACL would not
/// apply. So startup stops naming the line (DESIGN.md §5: never silently ignored). Values are checked, not just the
/// text, so a config built in code is held to the same rule.
/// </summary>
public static class NotYetSupported
{
    private const string Tls = "TLS listeners are not supported yet";

    /// <summary>Throws <see cref="ConfigException"/> for the first setting this version cannot honour.</summary>
    public static void Check(HoldfastConfig config)
    {
        foreach (var l in config.Listeners)
        {
            Refuse(config, l, "certfile", l.CertFile is not null, Tls);
            Refuse(config, l, "keyfile", l.KeyFile is not null, Tls);
            Refuse(config, l, "cafile", l.CaFile is not null, Tls);
            Refuse(config, l, "capath", l.CaPath is not null, Tls);
            Refuse(config, l, "require_certificate", l.RequireCertificate, Tls);
            Refuse(config, l, "use_identity_as_username", l.UseIdentityAsUsername, Tls);
            Refuse(config, l, "tls_version", l.TlsVersion is not null, Tls);
            if (l.Protocol != "mqtt")
                throw new ConfigException(l.File, l.Line, $"protocol {l.Protocol}: only mqtt listeners are supported yet");
        }
        if (config.SysInterval > 0 && config.Locations.TryGetValue("sys_interval", out var sys))
            throw new ConfigException(sys.File, sys.Line, "sys_interval: $SYS topics are not published yet (set 0 or remove the line)");
    }

    private static void Refuse(HoldfastConfig config, ListenerConfig listener, string key, bool isSet, string reason)
    {
        if (!isSet) return;
        var (file, line) = config.Locations.TryGetValue(key, out var at) ? at : (listener.File, listener.Line);
        throw new ConfigException(file, line, $"{key}: {reason}");
    }
}
