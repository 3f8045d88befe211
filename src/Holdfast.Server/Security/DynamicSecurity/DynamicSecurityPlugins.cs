using Holdfast.Broker;
using Holdfast.Server.Configuration;

namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>
/// The dynamic security instances the listeners use: one global, or one per listener with per_listener_settings true
/// (as Mosquitto loads a plugin per listener then); listeners naming the same file share one instance, so that a change
/// made through one is seen by the others. A file that cannot be read or is not dynamic security JSON stops startup,
/// naming the plugin line (Mosquitto logs it and runs with nobody allowed).
/// </summary>
internal sealed class DynamicSecurityPlugins : IDisposable
{
    private readonly Dictionary<string, DynamicSecurity> _byFile = new(StringComparer.Ordinal);
    private readonly HoldfastConfig _config;

    public DynamicSecurityPlugins(HoldfastConfig config, IBrokerLog log)
    {
        _config = config;
        foreach (var listener in config.Listeners)
        {
            if (config.EffectiveDynamicSecurity(listener) is not { ConfigFile: { } named } plugin) continue;
            // By full path: two listeners naming one file differently must share one instance, or each would save over
            // the other's changes.
            string path = Path.GetFullPath(named);
            if (_byFile.ContainsKey(path)) continue;
            try
            {
                _byFile[path] = DynamicSecurity.Load(path, log);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                throw new ConfigException(plugin.File, plugin.Line, $"plugin_opt_config_file {path}: {e.Message}");
            }
        }
    }

    /// <summary>The instance a listener's clients are checked by; null when it has no dynamic security.</summary>
    public DynamicSecurity? For(ListenerConfig listener) =>
        _config.EffectiveDynamicSecurity(listener) is { ConfigFile: { } path } ? _byFile[Path.GetFullPath(path)] : null;

    /// <summary>Hands every instance the broker its commands act on.</summary>
    public void Attach(MqttBroker broker)
    {
        foreach (var plugin in _byFile.Values) plugin.Attach(broker);
    }

    public void Dispose()
    {
        foreach (var plugin in _byFile.Values) plugin.Dispose();
    }
}
