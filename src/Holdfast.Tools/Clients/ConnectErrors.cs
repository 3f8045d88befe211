using Holdfast.Client;
using Holdfast.Protocol;

namespace Holdfast.Tools.Clients;

/// <summary>How pub and sub report a connection that did not come up. As mosquitto_pub/sub: a refusal exits with the
/// CONNACK code (MQTT 5 reason code, or the 3.1.1 return code), anything else with 1.</summary>
internal static class ConnectErrors
{
    public static int Report(Exception e, ProtocolVersion version)
    {
        Console.Error.WriteLine($"Connection error: {e.Message}");
        if (e is not MqttConnectException refused) return 1;
        return version == ProtocolVersion.V500 ? (int)refused.ReasonCode : (int)ReasonCodes.ToV311(refused.ReasonCode);
    }
}
