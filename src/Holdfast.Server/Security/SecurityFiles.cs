using Holdfast.Broker;
using Holdfast.Server.Configuration;

namespace Holdfast.Server.Security;

/// <summary>
/// The password and ACL files the listeners use (password_file, acl_file: global, or per listener with
/// per_listener_settings true), each file read once however many listeners name it. At startup a file that cannot be read
/// or holds a bad line stops startup, naming the config line that named it and the file's own line. <see cref="Reload"/>
/// reads them all again and keeps, with an error in the log, the previous version of each file that no longer loads.
/// Immutable: a reload makes a new one.
/// </summary>
internal sealed class SecurityFiles
{
    private readonly HoldfastConfig _config;
    private readonly Dictionary<string, PasswordFile> _passwords;
    private readonly Dictionary<string, AclFile> _acls;
    /// <summary>Each listener's ACL, by its index in the config: looked up on every delivery, so no path lookup there.</summary>
    private readonly AclFile?[] _aclByListener;

    private SecurityFiles(HoldfastConfig config, Dictionary<string, PasswordFile> passwords, Dictionary<string, AclFile> acls)
    {
        _config = config;
        _passwords = passwords;
        _acls = acls;
        _aclByListener = [.. config.Listeners.Select(l => config.EffectiveAclFile(l) is { } path ? acls[path] : null)];
    }

    public static SecurityFiles Load(HoldfastConfig config)
    {
        var passwords = new Dictionary<string, PasswordFile>(StringComparer.Ordinal);
        var acls = new Dictionary<string, AclFile>(StringComparer.Ordinal);
        foreach (var listener in config.Listeners)
        {
            if (config.EffectivePasswordFile(listener) is { } passwordPath && !passwords.ContainsKey(passwordPath))
                passwords[passwordPath] = AtStartup(config, listener, "password_file", () => PasswordFile.Load(passwordPath));
            if (config.EffectiveAclFile(listener) is { } aclPath && !acls.ContainsKey(aclPath))
                acls[aclPath] = AtStartup(config, listener, "acl_file", () => AclFile.Load(aclPath));
        }
        return new SecurityFiles(config, passwords, acls);
    }

    /// <summary>A file that cannot be read is reported at the config line naming it (a bad line in it, at that line).</summary>
    private static T AtStartup<T>(HoldfastConfig config, ListenerConfig listener, string directive, Func<T> load)
    {
        try
        {
            return load();
        }
        catch (ConfigException e) when (e.Line == 0)
        {
            var (file, line) = config.Locations.TryGetValue(directive, out var at) ? at : (listener.File, listener.Line);
            throw new ConfigException(file, line, $"{directive}: {e.Reason}");
        }
    }

    /// <summary>Every file read again; one that fails keeps its previous version, is logged as Mosquitto logs errors and
    /// is added to <paramref name="kept"/> ("acl_file PATH").</summary>
    public SecurityFiles Reload(IBrokerLog log, List<string> kept)
    {
        var passwords = _passwords.ToDictionary(p => p.Key, p => Reloaded(p.Key, p.Value, "password_file", PasswordFile.Load, log, kept), StringComparer.Ordinal);
        var acls = _acls.ToDictionary(a => a.Key, a => Reloaded(a.Key, a.Value, "acl_file", AclFile.Load, log, kept), StringComparer.Ordinal);
        return new SecurityFiles(_config, passwords, acls);
    }

    private static T Reloaded<T>(string path, T previous, string directive, Func<string, T> load, IBrokerLog log, List<string> kept)
    {
        try
        {
            return load(path);
        }
        catch (ConfigException e)
        {
            log.Error($"Error: {e.Message} ({directive} not reloaded; the previous version stays in force).");
            kept.Add($"{directive} {path}");
            return previous;
        }
    }

    public PasswordFile? PasswordFileFor(ListenerConfig listener) =>
        _config.EffectivePasswordFile(listener) is { } path ? _passwords[path] : null;

    /// <summary>The ACL of the listener at <paramref name="listenerIndex"/> in the config's listeners.</summary>
    public AclFile? AclFileFor(int listenerIndex) => _aclByListener[listenerIndex];
}
