using Holdfast.Protocol;

namespace Holdfast.Client;

/// <summary>The broker answered CONNECT with a refusal: a CONNACK reason code of 0x80 or more.</summary>
public sealed class MqttConnectException(ReasonCode reasonCode, string message) : Exception(message)
{
    public ReasonCode ReasonCode { get; } = reasonCode;
}
