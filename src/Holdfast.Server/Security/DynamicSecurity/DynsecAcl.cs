namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>One rule of a role: a topic (or filter) that is allowed or denied, with its priority among the role's rules
/// of the same type (higher first).</summary>
internal sealed record DynsecAcl(string Topic, int Priority, bool Allow);
