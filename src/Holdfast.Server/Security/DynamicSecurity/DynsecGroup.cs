namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>A dynamic security group: clients that share its roles. Its clients are listed by user name.</summary>
internal sealed class DynsecGroup(string name)
{
    public string Name { get; } = name;
    public string? TextName { get; set; }
    public string? TextDescription { get; set; }
    public List<Link> Roles { get; } = [];
    /// <summary>Members with the priority they were added with, in user name order.</summary>
    public List<Link> Clients { get; } = [];
}
