namespace Holdfast.Tools.Clients;

/// <summary>When holdfast sub acknowledges a QoS 1/2 message (PUBACK, or PUBREC for QoS 2). Anything but
/// <see cref="Immediate"/> reproduces a slow or stuck subscriber: the broker's inflight window for it fills and later
/// messages wait behind the unacknowledged ones.</summary>
internal enum AckMode
{
    /// <summary>As soon as the message is printed (every MQTT client library's default).</summary>
    Immediate,
    /// <summary>Never: the subscriber is stuck.</summary>
    Never,
    /// <summary>The oldest unacknowledged message when a line is read from standard input (press Enter).</summary>
    Manual,
    /// <summary>A fixed delay after each message arrives.</summary>
    Delayed,
}
