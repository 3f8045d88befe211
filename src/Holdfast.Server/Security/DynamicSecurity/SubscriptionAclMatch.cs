namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>
/// Whether a subscribePattern or unsubscribePattern rule covers a topic filter, as Mosquitto's dynamic security decides:
/// level by level, '+' in the rule matches any one level of the filter (a '+' too), a trailing '#' in the rule matches
/// the rest (a trailing '#' too), and a filter ending in '#' is covered only by a rule ending in '#'.
/// </summary>
internal static class SubscriptionAclMatch
{
    public static bool Covers(string acl, string filter)
    {
        if (acl == "#") return true;
        var aclLevels = WithoutHash(acl, out bool aclHash).Split('/');
        var filterLevels = WithoutHash(filter, out bool filterHash).Split('/');
        if (filterHash && !aclHash) return false;
        if (aclLevels.Length > filterLevels.Length) return false;
        if (filterLevels.Length > aclLevels.Length && !aclHash) return false;
        for (int i = 0; i < aclLevels.Length; i++)
            if (aclLevels[i] != "+" && aclLevels[i] != filterLevels[i]) return false;
        return true;
    }

    /// <summary>"#" becomes "" and "a/#" becomes "a", saying a trailing multi-level wildcard was there.</summary>
    private static string WithoutHash(string text, out bool hash)
    {
        hash = text == "#" || text.EndsWith("/#", StringComparison.Ordinal);
        return text == "#" ? "" : hash ? text[..^2] : text;
    }
}
