namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>A dynamic security client: a user name that may connect (with its password, and its client id when one is
/// set), its roles and its groups.</summary>
internal sealed class DynsecClient(string userName)
{
    public string UserName { get; } = userName;
    /// <summary>When set, the only client id this user may connect with.</summary>
    public string? ClientId { get; set; }
    public string? TextName { get; set; }
    public string? TextDescription { get; set; }
    public bool Disabled { get; set; }
    /// <summary>Null: no password, so the user cannot connect through dynamic security.</summary>
    public PasswordHash? Password { get; set; }
    public List<Link> Roles { get; } = [];
    public List<Link> Groups { get; } = [];
}
