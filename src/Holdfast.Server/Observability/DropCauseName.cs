using System.Text;
using Holdfast.Broker;

namespace Holdfast.Server.Observability;

/// <summary>How a drop cause is spelled in $SYS topics and metric labels: queue_full, expired, packet_too_large, …</summary>
internal static class DropCauseName
{
    public static string Of(DropCause cause)
    {
        var name = new StringBuilder();
        foreach (char c in cause.ToString())
        {
            if (char.IsUpper(c) && name.Length > 0) name.Append('_');
            name.Append(char.ToLowerInvariant(c));
        }
        return name.ToString();
    }
}
