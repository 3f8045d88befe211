namespace Holdfast.Protocol;

/// <summary>The protocol version as mosquitto_pub and mosquitto_sub name it in <c>-V</c>: mqttv5, mqttv311 or mqttv31 (or
/// just 5, 311, 31). Holdfast's tools take the same words and print them back in their reports.</summary>
public static class ProtocolVersionName
{
    public static bool TryParse(string text, out ProtocolVersion version)
    {
        switch (text.ToLowerInvariant())
        {
            case "mqttv5" or "5": version = ProtocolVersion.V500; return true;
            case "mqttv311" or "311": version = ProtocolVersion.V311; return true;
            case "mqttv31" or "31": version = ProtocolVersion.V310; return true;
            default: version = default; return false;
        }
    }

    public static string Of(ProtocolVersion version) => version switch
    {
        ProtocolVersion.V500 => "mqttv5",
        ProtocolVersion.V311 => "mqttv311",
        _ => "mqttv31",
    };
}
