using Holdfast.Protocol;

namespace Holdfast.Client;

/// <summary>The broker answered CONNECT with a refusal (or not at all).</summary>
public sealed class MqttConnectException(ReasonCode reasonCode, string message) : Exception(message)
{
    public ReasonCode ReasonCode { get; } = reasonCode;
}
