namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>listClients', listGroups' and listRoles' count and offset: skip offset entries, then take count (all when
/// count is negative). A count of 0 still yields one entry, as in Mosquitto.</summary>
internal static class Paging
{
    public static IEnumerable<T> Page<T>(IEnumerable<T> items, int count, int offset)
    {
        var rest = items.Skip(Math.Max(offset, 0));
        return count < 0 ? rest : rest.Take(Math.Max(count, 1));
    }
}
