using Holdfast.Server.Configuration;

namespace Holdfast.Server.Security;

/// <summary>The password files the listeners use, each read once at startup; a file that cannot be read or holds a bad
/// line stops startup, naming the config line that named it and the file's own line.</summary>
internal sealed class PasswordFiles
{
    private readonly Dictionary<string, PasswordFile> _byPath = new(StringComparer.Ordinal);
    private readonly HoldfastConfig _config;

    private PasswordFiles(HoldfastConfig config) => _config = config;

    public static PasswordFiles Load(HoldfastConfig config)
    {
        var files = new PasswordFiles(config);
        foreach (var listener in config.Listeners)
        {
            if (config.EffectivePasswordFile(listener) is not { } path || files._byPath.ContainsKey(path)) continue;
            try
            {
                files._byPath[path] = PasswordFile.Load(path);
            }
            catch (ConfigException e) when (e.Line == 0)
            {
                var (file, line) = config.Locations.TryGetValue("password_file", out var at) ? at : (listener.File, listener.Line);
                throw new ConfigException(file, line, $"password_file: {e.Reason}");
            }
        }
        return files;
    }

    public PasswordFile? For(ListenerConfig listener) =>
        _config.EffectivePasswordFile(listener) is { } path ? _byPath[path] : null;
}
