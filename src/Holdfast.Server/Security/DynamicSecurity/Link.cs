namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>A role given to a client or a group, or a group a client is in, with the priority of that link; -1 when none
/// was given. Lists of links are kept in the order they are checked: priority highest first, then by name.</summary>
internal sealed record Link(string Name, int Priority)
{
    public static void Insert(List<Link> list, Link link)
    {
        int at = list.FindIndex(l => l.Priority < link.Priority || (l.Priority == link.Priority && string.CompareOrdinal(l.Name, link.Name) > 0));
        list.Insert(at < 0 ? list.Count : at, link);
    }

    /// <summary>A group's members are kept by user name alone.</summary>
    public static void InsertByName(List<Link> list, Link link)
    {
        int at = list.FindIndex(l => string.CompareOrdinal(l.Name, link.Name) > 0);
        list.Insert(at < 0 ? list.Count : at, link);
    }

    public static bool Contains(List<Link> list, string name) => list.Exists(l => l.Name == name);

    public static bool Remove(List<Link> list, string name) => list.RemoveAll(l => l.Name == name) > 0;
}
