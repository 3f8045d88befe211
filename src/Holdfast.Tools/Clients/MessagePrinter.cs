using System.Text;
using System.Text.Json;
using Holdfast.Protocol;

namespace Holdfast.Tools.Clients;

/// <summary>How holdfast sub prints a message: the payload (mosquitto_sub's default), "topic payload" with -v, or one JSON
/// object per line with --json.</summary>
internal sealed class MessagePrinter(bool verbose, bool noNewline, bool json)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public void Print(PublishPacket publish)
    {
        string line = json ? Json(publish) : Text(publish);
        lock (Console.Out)
        {
            if (noNewline && !json) Console.Out.Write(line); else Console.Out.WriteLine(line);
            Console.Out.Flush();
        }
    }

    private string Text(PublishPacket publish)
    {
        string payload = Encoding.UTF8.GetString(publish.Payload.Span);
        return verbose ? $"{publish.Topic} {payload}" : payload;
    }

    /// <summary>The payload as text when it is UTF-8, else as base64 under another name, so a consumer never guesses.</summary>
    public static string Json(PublishPacket publish)
    {
        var fields = new Dictionary<string, object?>
        {
            ["time"] = DateTimeOffset.UtcNow.ToString("O"),
            ["topic"] = publish.Topic,
            ["qos"] = (int)publish.QoS,
            ["retain"] = publish.Retain,
            ["dup"] = publish.Dup,
            ["packet_id"] = publish.PacketId,
            ["payload_length"] = publish.Payload.Length,
        };
        try { fields["payload"] = StrictUtf8.GetString(publish.Payload.Span); }
        catch (DecoderFallbackException) { fields["payload_base64"] = Convert.ToBase64String(publish.Payload.Span); }
        if (publish.Properties is { } p)
        {
            var properties = new Dictionary<string, object?>();
            if (p.PayloadFormatIndicator is { } format) properties["payload_format_indicator"] = format;
            if (p.MessageExpiryInterval is { } expiry) properties["message_expiry_interval"] = expiry;
            if (p.ContentType is { } contentType) properties["content_type"] = contentType;
            if (p.ResponseTopic is { } responseTopic) properties["response_topic"] = responseTopic;
            if (p.CorrelationData is { } correlation) properties["correlation_data_base64"] = Convert.ToBase64String(correlation);
            if (p.SubscriptionIdentifiers is { Count: > 0 } ids) properties["subscription_identifiers"] = ids;
            if (p.UserProperties is { Count: > 0 } user) properties["user_properties"] = user.Select(u => new[] { u.Key, u.Value }).ToArray();
            if (properties.Count > 0) fields["properties"] = properties;
        }
        return JsonSerializer.Serialize(fields, JsonOutput.Options);
    }
}
