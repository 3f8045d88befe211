namespace Holdfast.Protocol;

/// <summary>MQTT 5 property identifiers (MQTT 5.0 §2.2.2.2).</summary>
public enum PropertyId : byte
{
    PayloadFormatIndicator = 0x01,
    MessageExpiryInterval = 0x02,
    ContentType = 0x03,
    ResponseTopic = 0x08,
    CorrelationData = 0x09,
    SubscriptionIdentifier = 0x0B,
    SessionExpiryInterval = 0x11,
    AssignedClientIdentifier = 0x12,
    ServerKeepAlive = 0x13,
    AuthenticationMethod = 0x15,
    AuthenticationData = 0x16,
    RequestProblemInformation = 0x17,
    WillDelayInterval = 0x18,
    RequestResponseInformation = 0x19,
    ResponseInformation = 0x1A,
    ServerReference = 0x1C,
    ReasonString = 0x1F,
    ReceiveMaximum = 0x21,
    TopicAliasMaximum = 0x22,
    TopicAlias = 0x23,
    MaximumQoS = 0x24,
    RetainAvailable = 0x25,
    UserProperty = 0x26,
    MaximumPacketSize = 0x27,
    WildcardSubscriptionAvailable = 0x28,
    SubscriptionIdentifiersAvailable = 0x29,
    SharedSubscriptionAvailable = 0x2A,
}

/// <summary>Where a property may appear. The will properties of CONNECT are their own context.</summary>
public enum PropertyContext
{
    Connect, ConnAck, Publish, PubAck, PubRec, PubRel, PubComp, Subscribe, SubAck, Unsubscribe, UnsubAck, Disconnect, Auth, Will,
}

internal static class PropertyRules
{
    /// <summary>The table of MQTT 5.0 §2.2.2.2: which property is allowed in which packet.</summary>
    public static bool IsAllowed(PropertyId id, PropertyContext ctx) => id switch
    {
        PropertyId.PayloadFormatIndicator or PropertyId.MessageExpiryInterval or PropertyId.ContentType
            or PropertyId.ResponseTopic or PropertyId.CorrelationData => ctx is PropertyContext.Publish or PropertyContext.Will,
        PropertyId.SubscriptionIdentifier => ctx is PropertyContext.Publish or PropertyContext.Subscribe,
        PropertyId.SessionExpiryInterval => ctx is PropertyContext.Connect or PropertyContext.ConnAck or PropertyContext.Disconnect,
        PropertyId.AssignedClientIdentifier or PropertyId.ServerKeepAlive or PropertyId.ResponseInformation
            or PropertyId.MaximumQoS or PropertyId.RetainAvailable or PropertyId.WildcardSubscriptionAvailable
            or PropertyId.SubscriptionIdentifiersAvailable or PropertyId.SharedSubscriptionAvailable => ctx is PropertyContext.ConnAck,
        PropertyId.AuthenticationMethod or PropertyId.AuthenticationData => ctx is PropertyContext.Connect or PropertyContext.ConnAck or PropertyContext.Auth,
        PropertyId.RequestProblemInformation or PropertyId.RequestResponseInformation => ctx is PropertyContext.Connect,
        PropertyId.WillDelayInterval => ctx is PropertyContext.Will,
        PropertyId.ServerReference => ctx is PropertyContext.ConnAck or PropertyContext.Disconnect,
        PropertyId.ReasonString => ctx is not (PropertyContext.Connect or PropertyContext.Publish or PropertyContext.Will
            or PropertyContext.Subscribe or PropertyContext.Unsubscribe),
        PropertyId.ReceiveMaximum or PropertyId.TopicAliasMaximum or PropertyId.MaximumPacketSize => ctx is PropertyContext.Connect or PropertyContext.ConnAck,
        PropertyId.TopicAlias => ctx is PropertyContext.Publish,
        PropertyId.UserProperty => true,
        _ => false,
    };
}
