using System.Globalization;
using System.Text;

namespace Holdfast.Tools.Check;

/// <summary>
/// The application message a check publisher sends: <c>run/publisher/sequence/sent-unix-ms</c> in ASCII, readable in a
/// broker's log. The run id keeps messages of other runs (or other applications) from being taken for ours.
/// </summary>
internal readonly record struct CheckPayload(string RunId, int Publisher, long Sequence, long SentUnixMs)
{
    public byte[] Encode() => Encoding.ASCII.GetBytes(
        $"{RunId}/{Publisher.ToString(CultureInfo.InvariantCulture)}/{Sequence.ToString(CultureInfo.InvariantCulture)}/{SentUnixMs.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>Null for anything that is not exactly a payload made by <see cref="Encode"/> (the caller reports it).</summary>
    public static CheckPayload? TryDecode(ReadOnlySpan<byte> payload)
    {
        if (payload.Length is 0 or > 128) return null;
        foreach (byte b in payload) if (b is < 0x21 or > 0x7e) return null;
        var parts = Encoding.ASCII.GetString(payload).Split('/');
        if (parts.Length != 4 || parts[0].Length == 0) return null;
        const NumberStyles digits = NumberStyles.None;
        if (!int.TryParse(parts[1], digits, CultureInfo.InvariantCulture, out int publisher)) return null;
        if (!long.TryParse(parts[2], digits, CultureInfo.InvariantCulture, out long sequence)) return null;
        if (!long.TryParse(parts[3], digits, CultureInfo.InvariantCulture, out long sent)) return null;
        return new CheckPayload(parts[0], publisher, sequence, sent);
    }
}
