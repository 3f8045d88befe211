using System.Formats.Asn1;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Holdfast.Server.Tls;

/// <summary>
/// A distinguished name written as OpenSSL writes it with XN_FLAG_RFC2253, the form Mosquitto gives
/// use_subject_as_username: the last RDN first, RDNs joined by ',' and the values of a multi-valued RDN by '+' (also last
/// first), OpenSSL's short attribute names, no spaces. Values are UTF-8, and every byte above 0x7F is written \XX, as are
/// control characters; , + " \ &lt; &gt; ; take a backslash, and so do a leading '#' and a leading or trailing space. An
/// attribute OpenSSL has no name for, or a value that is not a string, is written as '#' and the hex of its DER.
/// .NET's own X500DistinguishedName.Name differs (", " separators, quoting), hence this writer: the user name in the ACL
/// and password files must be the one Mosquitto would use.
/// </summary>
internal static class Rfc2253Name
{
    // OpenSSL's short names of the attributes found in certificate subjects; any other is written by its OID.
    private static readonly Dictionary<string, string> ShortNames = new(StringComparer.Ordinal)
    {
        ["2.5.4.3"] = "CN", ["2.5.4.4"] = "SN", ["2.5.4.5"] = "serialNumber", ["2.5.4.6"] = "C", ["2.5.4.7"] = "L",
        ["2.5.4.8"] = "ST", ["2.5.4.9"] = "street", ["2.5.4.10"] = "O", ["2.5.4.11"] = "OU", ["2.5.4.12"] = "title",
        ["2.5.4.13"] = "description", ["2.5.4.15"] = "businessCategory", ["2.5.4.17"] = "postalCode", ["2.5.4.41"] = "name",
        ["2.5.4.42"] = "GN", ["2.5.4.43"] = "initials", ["2.5.4.44"] = "generationQualifier", ["2.5.4.46"] = "dnQualifier",
        ["2.5.4.65"] = "pseudonym", ["2.5.4.72"] = "role", ["2.5.4.97"] = "organizationIdentifier",
        ["1.2.840.113549.1.9.1"] = "emailAddress", ["0.9.2342.19200300.100.1.1"] = "UID", ["0.9.2342.19200300.100.1.25"] = "DC",
    };

    /// <summary>The name in OpenSSL's RFC 2253 form; null when it cannot be read (not DER, or a UTF8String that is not UTF-8).</summary>
    public static string? Format(X500DistinguishedName name)
    {
        try
        {
            var entries = Entries(name.RawData);
            var text = new StringBuilder();
            for (int i = entries.Count - 1; i >= 0; i--)
            {
                if (i < entries.Count - 1) text.Append(entries[i].Rdn == entries[i + 1].Rdn ? '+' : ',');
                AppendEntry(text, entries[i].Oid, entries[i].Value);
            }
            return text.ToString();
        }
        catch (Exception e) when (e is AsnContentException or DecoderFallbackException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>Each attribute of the name in encoded order, with the index of the RDN it belongs to.</summary>
    private static List<(int Rdn, string Oid, ReadOnlyMemory<byte> Value)> Entries(byte[] der)
    {
        // BER: read what a certificate holds even when not strictly DER; the values keep their own bytes either way.
        var reader = new AsnReader(der, AsnEncodingRules.BER);
        var rdns = reader.ReadSequence();
        reader.ThrowIfNotEmpty();
        var entries = new List<(int, string, ReadOnlyMemory<byte>)>();
        for (int rdn = 0; rdns.HasData; rdn++)
        {
            // Kept in encoded order, as OpenSSL keeps it.
            var set = rdns.ReadSetOf(skipSortOrderValidation: true);
            while (set.HasData)
            {
                var attribute = set.ReadSequence();
                entries.Add((rdn, attribute.ReadObjectIdentifier(), attribute.ReadEncodedValue()));
                attribute.ThrowIfNotEmpty();
            }
        }
        return entries;
    }

    private static void AppendEntry(StringBuilder text, string oid, ReadOnlyMemory<byte> value)
    {
        if (!ShortNames.TryGetValue(oid, out var shortName))
        {
            text.Append(oid).Append('=');
            AppendDump(text, value.Span);
            return;
        }
        text.Append(shortName).Append('=');
        if (CodePoints(value) is { } codePoints) AppendEscaped(text, codePoints);
        else AppendDump(text, value.Span);
    }

    /// <summary>The characters of a string value, as OpenSSL reads each string type; null for a value that is no string.</summary>
    private static List<int>? CodePoints(ReadOnlyMemory<byte> value)
    {
        var tag = Asn1Tag.Decode(value.Span, out _);
        if (tag.TagClass != TagClass.Universal || tag.IsConstructed) return null;
        AsnDecoder.ReadEncodedValue(value.Span, AsnEncodingRules.BER, out int offset, out int length, out _);
        var content = value.Span.Slice(offset, length);
        var codePoints = new List<int>(content.Length);
        switch ((UniversalTagNumber)tag.TagValue)
        {
            case UniversalTagNumber.UTF8String:
                foreach (var rune in new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(content).EnumerateRunes())
                    codePoints.Add(rune.Value);
                break;
            // One byte per character (T61String too: OpenSSL reads it as Latin-1).
            case UniversalTagNumber.NumericString or UniversalTagNumber.PrintableString or UniversalTagNumber.T61String
                or UniversalTagNumber.IA5String or UniversalTagNumber.VisibleString or UniversalTagNumber.UtcTime
                or UniversalTagNumber.GeneralizedTime:
                foreach (byte b in content) codePoints.Add(b);
                break;
            case UniversalTagNumber.BMPString when content.Length % 2 == 0:
                for (int i = 0; i < content.Length; i += 2) codePoints.Add(content[i] << 8 | content[i + 1]);
                break;
            case UniversalTagNumber.UniversalString when content.Length % 4 == 0:
                for (int i = 0; i < content.Length; i += 4)
                    codePoints.Add(content[i] << 24 | content[i + 1] << 16 | content[i + 2] << 8 | content[i + 3]);
                break;
            default:
                return null;
        }
        return codePoints;
    }

    private static void AppendEscaped(StringBuilder text, List<int> codePoints)
    {
        Span<byte> utf8 = stackalloc byte[6];
        for (int i = 0; i < codePoints.Count; i++)
        {
            int length = EncodeUtf8(codePoints[i], utf8);
            foreach (byte b in utf8[..length])
            {
                char c = (char)b;
                bool edge = i == 0 || i == codePoints.Count - 1;
                if (b > 0x7E || b < 0x20) text.Append('\\').Append(b.ToString("X2", CultureInfo.InvariantCulture));
                else if (c is ',' or '+' or '"' or '\\' or '<' or '>' or ';' || (c == '#' && i == 0) || (c == ' ' && edge))
                    text.Append('\\').Append(c);
                else text.Append(c);
            }
        }
    }

    /// <summary>UTF-8 of any value up to 31 bits, as OpenSSL's UTF8_putc writes it (a lone BMP surrogate included).</summary>
    private static int EncodeUtf8(int value, Span<byte> output)
    {
        uint c = (uint)value;
        if (c < 0x80) { output[0] = (byte)c; return 1; }
        int length = c < 0x800 ? 2 : c < 0x10000 ? 3 : c < 0x200000 ? 4 : c < 0x4000000 ? 5 : 6;
        for (int i = length - 1; i > 0; i--, c >>= 6) output[i] = (byte)(0x80 | (c & 0x3F));
        output[0] = (byte)((uint)(0xFF00 >> length) | c);
        return length;
    }

    private static void AppendDump(StringBuilder text, ReadOnlySpan<byte> der) => text.Append('#').Append(Convert.ToHexString(der));
}
