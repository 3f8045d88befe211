using System.Text;

namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>Which strings Mosquitto takes as names and topics (mosquitto_validate_utf8): no U+0000, no lone surrogate,
/// no non-character (U+FDD0–U+FDEF, U+xxFFFE, U+xxFFFF), no control character (U+0001–U+001F, U+007F–U+009F).</summary>
internal static class Utf8Rules
{
    public static bool IsValid(string text)
    {
        if (Encoding.UTF8.GetByteCount(text) > 65536) return false;
        for (int i = 0; i < text.Length; i++)
        {
            int codePoint = text[i];
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                codePoint = char.ConvertToUtf32(text[i], text[++i]);
            else if (char.IsSurrogate(text[i]))
                return false;
            if (codePoint is <= 0x1F or (>= 0x7F and <= 0x9F) or (>= 0xFDD0 and <= 0xFDEF) || (codePoint & 0xFFFE) == 0xFFFE)
                return false;
        }
        return true;
    }
}
