namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>
/// Everything a dynamic security file holds: clients, groups, roles, the default access and the anonymous group, with
/// the links between them kept consistent both ways (a client's groups and a group's clients). Clients, groups and roles
/// are kept in name order, as Mosquitto lists them. Not thread-safe: <see cref="DynamicSecurity"/> guards it.
/// </summary>
internal sealed class DynsecConfig
{
    public SortedDictionary<string, DynsecClient> Clients { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, DynsecGroup> Groups { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, DynsecRole> Roles { get; } = new(StringComparer.Ordinal);
    public DefaultAccess DefaultAccess { get; } = new();
    /// <summary>The group whose roles apply to clients without a user name; null = none.</summary>
    public string? AnonymousGroup { get; set; }

    /// <summary>Adds <paramref name="client"/> to <paramref name="group"/> on both sides; false when already a member.</summary>
    public static bool AddGroupClient(DynsecGroup group, DynsecClient client, int priority)
    {
        if (Link.Contains(group.Clients, client.UserName)) return false;
        Link.InsertByName(group.Clients, new Link(client.UserName, priority));
        if (!Link.Contains(client.Groups, group.Name)) Link.Insert(client.Groups, new Link(group.Name, priority));
        return true;
    }

    public static void RemoveGroupClient(DynsecGroup group, DynsecClient client)
    {
        Link.Remove(group.Clients, client.UserName);
        Link.Remove(client.Groups, group.Name);
    }

    public void RemoveClientFromAllGroups(DynsecClient client)
    {
        foreach (var link in client.Groups.ToList())
            if (Groups.TryGetValue(link.Name, out var group)) RemoveGroupClient(group, client);
        client.Groups.Clear();
    }

    public void DeleteClient(DynsecClient client)
    {
        RemoveClientFromAllGroups(client);
        Clients.Remove(client.UserName);
    }

    public void DeleteGroup(DynsecGroup group)
    {
        foreach (var member in group.Clients.ToList())
            if (Clients.TryGetValue(member.Name, out var client)) RemoveGroupClient(group, client);
        Groups.Remove(group.Name);
        // Mosquitto 2.0.11 keeps a dangling anonymous group here; forgetting it is what it means.
        if (AnonymousGroup == group.Name) AnonymousGroup = null;
    }

    public void DeleteRole(DynsecRole role)
    {
        foreach (var client in Clients.Values) Link.Remove(client.Roles, role.Name);
        foreach (var group in Groups.Values) Link.Remove(group.Roles, role.Name);
        Roles.Remove(role.Name);
    }

    /// <summary>The user names holding <paramref name="role"/> directly or through a group, and whether the anonymous
    /// group holds it: who must be kicked when the role changes.</summary>
    public (IEnumerable<string> UserNames, bool Anonymous) HoldersOf(DynsecRole role)
    {
        var groups = Groups.Values.Where(g => Link.Contains(g.Roles, role.Name)).ToList();
        var users = Clients.Values.Where(c => Link.Contains(c.Roles, role.Name)).Select(c => c.UserName)
            .Concat(groups.SelectMany(g => g.Clients.Select(l => l.Name)));
        return (users, groups.Exists(g => g.Name == AnonymousGroup));
    }
}
