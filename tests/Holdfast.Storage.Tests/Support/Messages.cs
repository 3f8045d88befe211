using System.Text;
using Holdfast.Broker;
using Holdfast.Protocol;

namespace Holdfast.Storage.Tests.Support;

/// <summary>Builds broker messages for store tests and compares recovered ones with the originals.</summary>
public static class Messages
{
    /// <summary>How far a time may move when converted to wall-clock time on save and back to the monotonic clock on load.</summary>
    public const long ClockTolerance = 1000;

    public static Message Create(string topic, string payload, QualityOfService qos = QualityOfService.AtLeastOnce, bool retain = false,
        MqttProperties? properties = null, string? publisher = "pub", long? receivedAt = null) =>
        new(topic, Encoding.UTF8.GetBytes(payload), qos, retain, properties, publisher, receivedAt ?? Environment.TickCount64);

    public static string Text(this Message m) => Encoding.UTF8.GetString(m.Payload.Span);

    /// <summary>Asserts that a recovered message carries everything the original did.</summary>
    public static void AssertSame(Message expected, Message actual)
    {
        Assert.Equal(expected.Topic, actual.Topic);
        Assert.Equal(expected.Payload.ToArray(), actual.Payload.ToArray());
        Assert.Equal(expected.QoS, actual.QoS);
        Assert.Equal(expected.Retain, actual.Retain);
        Assert.Equal(expected.PublisherClientId, actual.PublisherClientId);
        AssertClose(expected.ReceivedAt, actual.ReceivedAt);
        Assert.Equal(expected.ExpiresAt - expected.ReceivedAt, actual.ExpiresAt - actual.ReceivedAt);
        AssertSameProperties(expected.Properties, actual.Properties);
    }

    public static void AssertSameProperties(MqttProperties? expected, MqttProperties? actual)
    {
        if (expected is null)
        {
            Assert.True(actual is null || IsEmpty(actual), "no properties were stored, yet some came back");
            return;
        }
        Assert.NotNull(actual);
        Assert.Equal(expected.PayloadFormatIndicator, actual.PayloadFormatIndicator);
        Assert.Equal(expected.MessageExpiryInterval, actual.MessageExpiryInterval);
        Assert.Equal(expected.ContentType, actual.ContentType);
        Assert.Equal(expected.ResponseTopic, actual.ResponseTopic);
        Assert.Equal(expected.CorrelationData, actual.CorrelationData);
        Assert.Equal(expected.UserProperties, actual.UserProperties);
    }

    private static bool IsEmpty(MqttProperties p) =>
        p.PayloadFormatIndicator is null && p.MessageExpiryInterval is null && p.ContentType is null && p.ResponseTopic is null
        && p.CorrelationData is null && p.UserProperties is null;

    /// <summary>A monotonic time recovered from the store is the original, give or take the clock conversion.</summary>
    public static void AssertClose(long expected, long actual) =>
        Assert.True(Math.Abs(expected - actual) <= ClockTolerance, $"expected {expected} ± {ClockTolerance} ms, got {actual} (off by {actual - expected} ms)");
}
