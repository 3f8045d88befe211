using System.Text;
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
    /// <summary>Takes a snapshot. Walks every session (and every inflight message) under the lock, so it is for
    /// a collector's interval or a scrape, never for the per-message path.</summary>
    public BrokerStatus Status()
    {
        lock (_lock)
        {
            long now = Now;
            int connected = 0, pastAckTimeout = 0;
            long inflight = 0, queued = 0, bytes = 0;
            foreach (var session in _sessions.Values)
            {
                inflight += session.InflightCount;
                queued += session.QueuedCount;
                bytes += session.QueuedBytes;
                foreach (var m in session.Inflight) bytes += m.Message.Size;
                if (session.Client is not { } client) continue;
                connected++;
                if (client.Policy.AckTimeout is { } timeout && session.OldestInflight is { Sent: true } oldest
                    && now - oldest.SentAt >= (long)timeout.TotalMilliseconds)
                    pastAckTimeout++;
            }
            long retainedBytes = 0;
            foreach (var m in _retained.All) retainedBytes += m.Size;
            return new BrokerStatus(connected, _sessions.Count, inflight, queued, bytes, _retained.Count, retainedBytes,
                _subscriptions.Count, pastAckTimeout);
        }
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
            if (_shuttingDown) return;
            _retained.Set(message);
            Route(message, blockWhenFull: false);
        }
    }
}
