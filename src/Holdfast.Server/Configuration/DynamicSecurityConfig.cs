namespace Holdfast.Server.Configuration;

/// <summary>Mosquitto's dynamic security plugin, as configured (`plugin .../mosquitto_dynamic_security.so` and
/// `plugin_opt_config_file FILE`): Holdfast runs it natively. Global, or per listener with per_listener_settings true.</summary>
public sealed class DynamicSecurityConfig
{
    /// <summary>plugin_opt_config_file: the JSON file of clients, groups and roles (read at startup, saved on every change).</summary>
    public string? ConfigFile { get; set; }

    /// <summary>Where the plugin line is, for errors.</summary>
    public string File { get; init; } = "";
    public int Line { get; init; }
}
