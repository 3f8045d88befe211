using Holdfast.Server.Configuration;

namespace Holdfast.Server.Tests.DynamicSecurity;

/// <summary>`plugin .../mosquitto_dynamic_security.so` and plugin_opt_config_file in the config file.</summary>
public class DynamicSecurityConfigTests
{
    private static HoldfastConfig Parse(string text) => ConfigParser.Parse(text, "holdfast.conf");

    private static string Fails(string text) => Assert.Throws<ConfigException>(() => Parse(text)).Message;

    [Theory]
    [InlineData("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so")]
    [InlineData("../../plugins/dynamic-security/mosquitto_dynamic_security.so")]
    public void Dynamic_security_from_any_directory_applies_to_every_listener(string path)
    {
        var config = Parse($"listener 1883\nlistener 1884\nplugin {path}\nplugin_opt_config_file /etc/holdfast/dynsec.json\n");
        Assert.All(config.Listeners, l => Assert.Equal("/etc/holdfast/dynsec.json", config.EffectiveDynamicSecurity(l)?.ConfigFile));
    }

    [Fact]
    public void With_per_listener_settings_it_belongs_to_its_listener()
    {
        var config = Parse("""
            per_listener_settings true
            listener 1883
            plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so
            plugin_opt_config_file a.json
            listener 1884
            """);
        Assert.Equal("a.json", config.EffectiveDynamicSecurity(config.Listeners[0])?.ConfigFile);
        Assert.Null(config.EffectiveDynamicSecurity(config.Listeners[1]));
    }

    [Fact]
    public void Other_plugin_options_are_left_to_the_plugin_as_in_Mosquitto() =>
        Assert.NotNull(Parse("plugin /x/mosquitto_dynamic_security.so\nplugin_opt_config_file a.json\nplugin_opt_other 1\n").DynamicSecurity);

    [Fact]
    public void Other_plugins_are_refused_naming_the_alternatives() =>
        Assert.Equal("holdfast.conf:1: plugin: /usr/lib/mosquitto_auth.so is not Mosquitto's dynamic security: plugins other than "
            + "Mosquitto's dynamic security are not supported; use password_file and acl_file, or dynamic security "
            + "(plugin PATH/mosquitto_dynamic_security.so with plugin_opt_config_file)", Fails("plugin /usr/lib/mosquitto_auth.so"));

    [Fact]
    public void Dynamic_security_without_its_file_is_refused() =>
        Assert.Equal("holdfast.conf:2: plugin: mosquitto_dynamic_security.so needs plugin_opt_config_file (the JSON file of its clients, "
            + "groups and roles)", Fails("listener 1883\nplugin /x/mosquitto_dynamic_security.so\n"));

    [Fact]
    public void A_plugin_option_needs_its_plugin() =>
        Assert.Contains("plugin_opt_config_file", Fails("plugin_opt_config_file a.json"));
}
