using Holdfast.Broker;
using Holdfast.Protocol;

namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>
/// Dynamic security's access decision, as Mosquitto's plugin makes it. The first rule that matches decides: the
/// client's roles in priority order, each role's rules of the right type in priority order; then its groups in priority
/// order, each group's roles likewise. A client without a user name is judged by the anonymous group's roles. When no
/// rule matches, defaultACLAccess decides for that type of check, but never grants a $CONTROL topic.
/// </summary>
internal static class AclEvaluation
{
    /// <summary>True allow, false deny, null not decided here (an unknown user, or a default that does not grant): the
    /// caller asks the next check (acl_file), and with none the answer is no.</summary>
    public static bool? Check(DynsecConfig config, string? userName, string topic, TopicAccess access)
    {
        if (userName is not null)
        {
            if (!config.Clients.TryGetValue(userName, out var client)) return null;
            if (CheckRoles(config, client.Roles, topic, access) is { } byClient) return byClient;
            foreach (var link in client.Groups)
                if (config.Groups.TryGetValue(link.Name, out var group) && CheckRoles(config, group.Roles, topic, access) is { } byGroup)
                    return byGroup;
        }
        else if (config.AnonymousGroup is { } anonymous && config.Groups.TryGetValue(anonymous, out var group)
                 && CheckRoles(config, group.Roles, topic, access) is { } byAnonymous)
        {
            return byAnonymous;
        }
        if (!config.DefaultAccess[DefaultName(access)]) return null;
        // Never granted by default: they must be granted explicitly.
        return topic.StartsWith("$CONTROL", StringComparison.Ordinal) ? null : true;
    }

    private static string DefaultName(TopicAccess access) => access switch
    {
        TopicAccess.Write => DefaultAccess.PublishClientSend,
        TopicAccess.Read => DefaultAccess.PublishClientReceive,
        TopicAccess.Subscribe => DefaultAccess.Subscribe,
        _ => DefaultAccess.Unsubscribe,
    };

    private static bool? CheckRoles(DynsecConfig config, List<Link> roles, string topic, TopicAccess access)
    {
        foreach (var link in roles)
        {
            if (!config.Roles.TryGetValue(link.Name, out var role)) continue;
            var verdict = access switch
            {
                TopicAccess.Write => FirstMatch(role.Acls[AclType.PublishClientSend], topic),
                TopicAccess.Read => FirstMatch(role.Acls[AclType.PublishClientReceive], topic),
                TopicAccess.Subscribe => Filter(role, AclType.SubscribeLiteral, AclType.SubscribePattern, topic),
                _ => Filter(role, AclType.UnsubscribeLiteral, AclType.UnsubscribePattern, topic),
            };
            if (verdict is not null) return verdict;
        }
        return null;
    }

    private static bool? FirstMatch(List<DynsecAcl> acls, string topic)
    {
        foreach (var acl in acls)
            if (TopicRules.Matches(acl.Topic, topic)) return acl.Allow;
        return null;
    }

    /// <summary>A (un)subscribe: a literal rule naming the filter exactly decides first, then the pattern rules.</summary>
    private static bool? Filter(DynsecRole role, AclType literal, AclType pattern, string filter)
    {
        foreach (var acl in role.Acls[literal])
            if (acl.Topic == filter) return acl.Allow;
        foreach (var acl in role.Acls[pattern])
            if (SubscriptionAclMatch.Covers(acl.Topic, filter)) return acl.Allow;
        return null;
    }
}
