namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>defaultACLAccess: what happens when no rule of a client's roles matches, per kind of check. Mosquitto's
/// defaults when the file does not say: nothing allowed.</summary>
internal sealed class DefaultAccess
{
    public const string PublishClientSend = "publishClientSend";
    public const string PublishClientReceive = "publishClientReceive";
    public const string Subscribe = "subscribe";
    public const string Unsubscribe = "unsubscribe";

    public static readonly string[] Names = [PublishClientSend, PublishClientReceive, Subscribe, Unsubscribe];

    private readonly Dictionary<string, bool> _allow = new(StringComparer.OrdinalIgnoreCase);

    public bool this[string name]
    {
        get => _allow.GetValueOrDefault(name);
        set => _allow[name] = value;
    }

    public static bool IsName(string name) => Names.Contains(name, StringComparer.OrdinalIgnoreCase);
}
