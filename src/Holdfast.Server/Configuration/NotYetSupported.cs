namespace Holdfast.Server.Configuration;

/// <summary>
/// Directives that parse (they are Mosquitto's, and later work enforces them) but that this version cannot honour.
/// Starting anyway would be worse than refusing: an ACL would not apply. So startup stops naming the line (DESIGN.md §5: never silently ignored). Values are checked, not just the
/// text, so a config built in code is held to the same rule.
/// </summary>
public static class NotYetSupported
{
    /// <summary>Throws <see cref="ConfigException"/> for the first setting this version cannot honour.</summary>
    public static void Check(HoldfastConfig config)
    {
        foreach (var l in config.Listeners)
            Refuse(config, l, "acl_file", config.EffectiveAclFile(l) is not null, "ACL files are not supported yet");
    }

    private static void Refuse(HoldfastConfig config, ListenerConfig listener, string key, bool isSet, string reason)
    {
        if (!isSet) return;
        var (file, line) = config.Locations.TryGetValue(key, out var at) ? at : (listener.File, listener.Line);
        throw new ConfigException(file, line, $"{key}: {reason}");
    }
}
