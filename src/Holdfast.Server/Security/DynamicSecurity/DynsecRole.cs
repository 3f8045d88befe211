namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>A dynamic security role: named sets of rules, one list per <see cref="AclType"/>, each kept in the order
/// they are checked (priority, highest first; equal priorities in the order they were added, as Mosquitto keeps them).</summary>
internal sealed class DynsecRole(string name)
{
    public string Name { get; } = name;
    public string? TextName { get; set; }
    public string? TextDescription { get; set; }
    public Dictionary<AclType, List<DynsecAcl>> Acls { get; private set; } = NoAcls();

    public static Dictionary<AclType, List<DynsecAcl>> NoAcls() => AclTypeNames.All.ToDictionary(t => t, _ => new List<DynsecAcl>());

    public void ReplaceAcls(Dictionary<AclType, List<DynsecAcl>> acls) => Acls = acls;

    public static void Insert(List<DynsecAcl> list, DynsecAcl acl)
    {
        int at = list.FindIndex(a => a.Priority < acl.Priority);
        list.Insert(at < 0 ? list.Count : at, acl);
    }
}
