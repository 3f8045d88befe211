using Holdfast.Broker.Routing;
using Holdfast.Protocol;

namespace Holdfast.Broker;

/// <summary>What the broker holds at one moment, for $SYS and /metrics. Messages are counted once per session
/// holding them (a message queued for three sessions counts three times), retained messages once.</summary>
public readonly record struct BrokerStatus(
    int ClientsConnected,
    int ClientsTotal,
    long InflightMessages,
    long QueuedMessages,
    long HeldBytes,
    int RetainedMessages,
    long RetainedBytes,
    int Subscriptions,
    int ClientsPastAckTimeout,
    long QueuedBytes = 0,
    int SharedSubscriptions = 0);
