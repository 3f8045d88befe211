using System.Text;
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
    int ClientsPastAckTimeout);

// The broker's own status: a snapshot for the collectors, and the way they publish $SYS topics.
public sealed partial class MqttBroker
{
    /// <summary>Takes a snapshot: running totals kept as sessions and retained messages change, so idle sessions and
    /// retained messages cost nothing here. Sessions holding inflight messages are looked at, for the ack timeout: when
    /// many subscribers are stuck, that can be most of them.</summary>
    public BrokerStatus Status()
    {
        lock (_lock)
        {
            var totals = _sessions.Totals;
            return new BrokerStatus(totals.ClientsConnected, _sessions.Count, totals.InflightMessages, totals.QueuedMessages,
                totals.HeldBytes, _retained.Count, _retained.Bytes, _subscriptions.Count, ClientsPastAckTimeout(totals.FirstWithInflight, Now));
        }
    }

    /// <summary>Connected clients whose oldest inflight message has waited longer than their listener's ack_timeout.</summary>
    private static int ClientsPastAckTimeout(Session? firstWithInflight, long now)
    {
        int past = 0;
        for (var session = firstWithInflight; session is not null; session = session.NextWithInflight)
            if (session.Client?.Policy.AckTimeout is { } timeout && session.OldestInflight is { Sent: true } oldest
                && now - oldest.SentAt >= (long)timeout.TotalMilliseconds)
                past++;
        return past;
    }

    /// <summary>For tests: runs <paramref name="inspect"/> under the broker's lock with the sessions and retained messages,
    /// so a check can add them up the long way and compare with <see cref="Status"/>.</summary>
    internal T Inspect<T>(Func<SessionTable, RetainedTree, T> inspect)
    {
        lock (_lock) return inspect(_sessions, _retained);
    }

    /// <summary>Publishes one $SYS topic: retained, QoS 0, from the broker itself. Kept in memory only (never in the
    /// durable store: it describes this run of the broker) and not counted as client traffic.</summary>
    public void PublishBrokerStatus(string topic, string value)
    {
        var message = new Message(topic, Encoding.UTF8.GetBytes(value), QualityOfService.AtMostOnce, retain: true, null, null, Now)
        {
            FromBroker = true,
        };
        lock (_lock)
        {
            using var op = BeginOperation();
            if (_shuttingDown) return;
            _retained.Set(message);
            Route(op, message, blockWhenFull: false);
        }
    }
}
