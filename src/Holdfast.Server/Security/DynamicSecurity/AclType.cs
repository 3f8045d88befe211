namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>The kinds of rule a dynamic security role holds, by Mosquitto's names (the JSON's "acltype").</summary>
internal enum AclType
{
    PublishClientSend,
    PublishClientReceive,
    SubscribeLiteral,
    SubscribePattern,
    UnsubscribeLiteral,
    UnsubscribePattern,
}

/// <summary>The JSON names of <see cref="AclType"/>, matched without regard to case as Mosquitto matches them.</summary>
internal static class AclTypeNames
{
    public static readonly AclType[] All = Enum.GetValues<AclType>();

    public static string Name(AclType type) => type switch
    {
        AclType.PublishClientSend => "publishClientSend",
        AclType.PublishClientReceive => "publishClientReceive",
        AclType.SubscribeLiteral => "subscribeLiteral",
        AclType.SubscribePattern => "subscribePattern",
        AclType.UnsubscribeLiteral => "unsubscribeLiteral",
        _ => "unsubscribePattern",
    };

    public static AclType? Parse(string name)
    {
        foreach (var type in All)
            if (string.Equals(Name(type), name, StringComparison.OrdinalIgnoreCase)) return type;
        return null;
    }
}
