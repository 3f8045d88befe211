using System.Text.Json;
using System.Text.Json.Nodes;

namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>Reading dynamic security JSON as Mosquitto reads it (cJSON): member names match without regard to case, a
/// member of the wrong type counts as wrong (not as absent), and numbers are truncated to integers.</summary>
internal static class JsonRead
{
    private static readonly JsonNodeOptions CaseInsensitive = new() { PropertyNameCaseInsensitive = true };

    /// <summary>Null when <paramref name="json"/> is not valid JSON.</summary>
    public static JsonNode? Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            var node = JsonNode.Parse(json, CaseInsensitive, default);
            Materialize(node);
            return node;
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>A JsonObject builds its member table on first use, and throws then on a name given twice (case aside);
    /// built here, so that such a payload is refused as invalid JSON rather than failing a command halfway.</summary>
    private static void Materialize(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var member in o) Materialize(member.Value);
                break;
            case JsonArray a:
                foreach (var item in a) Materialize(item);
                break;
        }
    }

    public static JsonNode? Member(JsonNode? node, string name) => node is JsonObject o && o.TryGetPropertyValue(name, out var value) ? value : null;

    public static bool IsString(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String;

    public static bool IsBool(JsonNode? node) => node is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False;

    public static bool IsNumber(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.Number;

    public static string? String(JsonNode? node) => IsString(node) ? node!.GetValue<string>() : null;

    /// <summary>As cJSON's valueint: truncated, and clamped to the range of an int.</summary>
    public static int Int(JsonNode node)
    {
        double value = node.GetValue<double>();
        return value >= int.MaxValue ? int.MaxValue : value <= int.MinValue ? int.MinValue : (int)value;
    }

    /// <summary>An optional string member: (true, null) when absent, (false, _) when present but not a string.</summary>
    public static bool TryOptionalString(JsonNode? node, string name, out string? value)
    {
        var member = Member(node, name);
        value = String(member);
        return member is null || value is not null;
    }

    /// <summary>An optional integer member; <paramref name="fallback"/> when absent or not a number.</summary>
    public static int OptionalInt(JsonNode? node, string name, int fallback) => Member(node, name) is { } m && IsNumber(m) ? Int(m) : fallback;

    /// <summary>An optional boolean member; <paramref name="fallback"/> when absent or not a boolean.</summary>
    public static bool OptionalBool(JsonNode? node, string name, bool fallback) => Member(node, name) is { } m && IsBool(m) ? m.GetValue<bool>() : fallback;
}
