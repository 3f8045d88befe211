using System.Globalization;
using System.Text;

namespace Holdfast.Server.Logging;

/// <summary>
/// Mosquitto's log_timestamp_format: a strftime-style pattern such as <c>%Y-%m-%dT%H:%M:%S</c>. Holdfast supports
/// the conversions operators use for timestamps; any other is rejected when the config is read, not ignored
/// at the first log line.
/// </summary>
public sealed class LogTimestampFormat
{
    private const string Supported = "%Y %m %d %H %M %S %z %F %T %s %%";

    // Each part is either literal text or a conversion character; parsed once so formatting is a straight walk.
    private readonly (char Conversion, string? Literal)[] _parts;

    private LogTimestampFormat((char, string?)[] parts) => _parts = parts;

    public static LogTimestampFormat Parse(string format) =>
        TryParse(format, out var result, out var error) ? result : throw new FormatException(error);

    public static bool TryParse(string format, out LogTimestampFormat result, out string error)
    {
        var parts = new List<(char, string?)>();
        var literal = new StringBuilder();
        result = null!;

        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%')
            {
                literal.Append(format[i]);
                continue;
            }
            if (i + 1 == format.Length)
            {
                error = "timestamp format ends with a lone '%'";
                return false;
            }

            char conversion = format[++i];
            if (conversion == '%')
            {
                literal.Append('%');
                continue;
            }
            if (!"YmdHMSzFTs".Contains(conversion))
            {
                error = $"unsupported conversion '%{conversion}' in timestamp format (Holdfast supports {Supported})";
                return false;
            }
            if (literal.Length > 0)
            {
                parts.Add(('\0', literal.ToString()));
                literal.Clear();
            }
            parts.Add((conversion, null));
        }
        if (literal.Length > 0)
            parts.Add(('\0', literal.ToString()));

        result = new LogTimestampFormat(parts.ToArray());
        error = "";
        return true;
    }

    /// <summary>Formats a local time (Mosquitto formats in local time, as strftime with localtime does).</summary>
    public string Format(DateTimeOffset time)
    {
        var text = new StringBuilder(32);
        foreach (var (conversion, literal) in _parts)
        {
            if (literal is not null)
            {
                text.Append(literal);
                continue;
            }
            switch (conversion)
            {
                case 'Y': text.Append(time.Year.ToString("D4", CultureInfo.InvariantCulture)); break;
                case 'm': Append2(text, time.Month); break;
                case 'd': Append2(text, time.Day); break;
                case 'H': Append2(text, time.Hour); break;
                case 'M': Append2(text, time.Minute); break;
                case 'S': Append2(text, time.Second); break;
                case 'F': text.Append(time.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)); break;
                case 'T': text.Append(time.ToString("HH:mm:ss", CultureInfo.InvariantCulture)); break;
                case 's': text.Append(time.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)); break;
                case 'z': AppendOffset(text, time.Offset); break;
            }
        }
        return text.ToString();
    }

    private static void Append2(StringBuilder text, int value) =>
        text.Append(value.ToString("D2", CultureInfo.InvariantCulture));

    // strftime's %z: +hhmm or -hhmm.
    private static void AppendOffset(StringBuilder text, TimeSpan offset)
    {
        text.Append(offset < TimeSpan.Zero ? '-' : '+');
        var magnitude = offset.Duration();
        Append2(text, magnitude.Hours);
        Append2(text, magnitude.Minutes);
    }
}
