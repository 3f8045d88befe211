using System.Collections;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Holdfast.Protocol.Tests.Helpers;

/// <summary>
/// Field-by-field structural comparison of decoded packets. Walks every public instance property (so a field
/// added to a packet class later is compared without touching this file), with the equivalences the wire
/// format cannot distinguish:
/// <list type="bullet">
/// <item>a null <see cref="MqttProperties"/> equals one with no property set (both encode as length 0);</item>
/// <item>a null list equals an empty list (no user property / subscription identifier is written for either);</item>
/// <item>byte arrays and <see cref="ReadOnlyMemory{T}"/> compare by content.</item>
/// </list>
/// </summary>
public static class PacketComparer
{
    public static List<string> Differences(object? expected, object? actual)
    {
        var diffs = new List<string>();
        Compare(expected, actual, expected?.GetType().Name ?? actual?.GetType().Name ?? "packet", diffs);
        return diffs;
    }

    public static void AssertEqual(object? expected, object? actual, string? context = null)
    {
        var diffs = Differences(expected, actual);
        if (diffs.Count == 0) return;
        var message = new StringBuilder();
        if (context is not null) message.AppendLine(context);
        message.AppendLine("Decoded packet differs from the original:");
        foreach (var d in diffs) message.Append("  ").AppendLine(d);
        message.Append("expected: ").AppendLine(Describe(expected));
        message.Append("actual:   ").AppendLine(Describe(actual));
        Assert.Fail(message.ToString());
    }

    private static void Compare(object? e, object? a, string path, List<string> diffs)
    {
        if (e is MqttProperties || a is MqttProperties)
        {
            var pe = e as MqttProperties;
            var pa = a as MqttProperties;
            if (IsEmpty(pe) && IsEmpty(pa)) return;
            if (pe is null || pa is null)
            {
                diffs.Add($"{path}: expected {Describe(pe)}, actual {Describe(pa)}");
                return;
            }
        }
        else if (e is null || a is null)
        {
            if (IsEmptyCollection(e) && IsEmptyCollection(a)) return;
            if (!(e is null && a is null)) diffs.Add($"{path}: expected {Describe(e)}, actual {Describe(a)}");
            return;
        }

        var type = e!.GetType();
        if (type != a!.GetType())
        {
            diffs.Add($"{path}: expected type {type.Name}, actual {a.GetType().Name}");
            return;
        }

        switch (e)
        {
            case string or Enum or bool or byte or ushort or uint or int or long or ulong:
                if (!e.Equals(a)) diffs.Add($"{path}: expected {Describe(e)}, actual {Describe(a)}");
                return;
            case byte[] be:
                if (!be.AsSpan().SequenceEqual((byte[])a)) diffs.Add($"{path}: expected {Wire.Hex(be)}, actual {Wire.Hex((byte[])a)}");
                return;
            case ReadOnlyMemory<byte> me:
                var ma = (ReadOnlyMemory<byte>)a;
                if (!me.Span.SequenceEqual(ma.Span)) diffs.Add($"{path}: expected {Wire.Hex(me.Span)}, actual {Wire.Hex(ma.Span)}");
                return;
            case IList le:
                var la = (IList)a;
                if (le.Count != la.Count)
                {
                    diffs.Add($"{path}: expected {le.Count} items {Describe(e)}, actual {la.Count} items {Describe(a)}");
                    return;
                }
                for (int i = 0; i < le.Count; i++) Compare(le[i], la[i], $"{path}[{i}]", diffs);
                return;
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(KeyValuePair<,>))
        {
            Compare(type.GetProperty("Key")!.GetValue(e), type.GetProperty("Key")!.GetValue(a), path + ".Key", diffs);
            Compare(type.GetProperty("Value")!.GetValue(e), type.GetProperty("Value")!.GetValue(a), path + ".Value", diffs);
            return;
        }

        if (type.IsPrimitive || type.IsEnum)
        {
            if (!e.Equals(a)) diffs.Add($"{path}: expected {e}, actual {a}");
            return;
        }

        foreach (var prop in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (prop.GetIndexParameters().Length > 0) continue;
            Compare(prop.GetValue(e), prop.GetValue(a), $"{path}.{prop.Name}", diffs);
        }
    }

    // Only lists (user properties, subscription identifiers, filters, reason codes) are normalized: a null byte[]
    // (field absent) and an empty one (field present with length 0) differ on the wire.
    private static bool IsEmptyCollection(object? o) => o is null || o is IList { Count: 0 } and not Array;

    /// <summary>True when no property is present: every settable property is null or an empty list.</summary>
    public static bool IsEmpty(MqttProperties? p) =>
        p is null || typeof(MqttProperties).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(x => x.CanWrite)
            .All(x => IsEmptyCollection(x.GetValue(p)));

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(), new MemoryHexConverter(), new BytesHexConverter() },
    };

    /// <summary>A readable one-line dump of a packet (used in failure messages and as CsCheck's print function).</summary>
    public static string Describe(object? o)
    {
        if (o is null) return "null";
        try
        {
            return o.GetType().Name + " " + JsonSerializer.Serialize(o, o.GetType(), JsonOptions);
        }
        catch (Exception ex)
        {
            return $"{o.GetType().Name} (not printable: {ex.Message})";
        }
    }

    private sealed class MemoryHexConverter : JsonConverter<ReadOnlyMemory<byte>>
    {
        public override ReadOnlyMemory<byte> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => throw new NotSupportedException();
        public override void Write(Utf8JsonWriter writer, ReadOnlyMemory<byte> value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.Length > 64 ? $"{Convert.ToHexString(value.Span[..64])}... ({value.Length} bytes)" : Convert.ToHexString(value.Span));
    }

    private sealed class BytesHexConverter : JsonConverter<byte[]>
    {
        public override byte[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => throw new NotSupportedException();
        public override void Write(Utf8JsonWriter writer, byte[] value, JsonSerializerOptions options) => writer.WriteStringValue(Convert.ToHexString(value));
    }
}
