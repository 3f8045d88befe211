using System.Globalization;

namespace Holdfast.Server.Configuration;

/// <summary>
/// One directive line (<c>key value...</c>) and strict readers for its value. Every reader throws a
/// <see cref="ConfigException"/> naming the file, line and directive, so no bad value is ever half-accepted.
/// </summary>
internal sealed class ConfigLine
{
    private static readonly char[] Blanks = [' ', '\t'];

    private ConfigLine(string file, int number, string key, string[] args, string rest)
    {
        File = file;
        Number = number;
        Key = key;
        Args = args;
        Rest = rest;
    }

    public string File { get; }
    public int Number { get; }
    public string Key { get; }

    /// <summary>The words after the key.</summary>
    public string[] Args { get; }

    /// <summary>Everything after the key, trimmed: for values that may contain spaces (paths, timestamp formats).</summary>
    public string Rest { get; }

    /// <summary>Splits a line into key and values; null for blank lines and comments.</summary>
    public static ConfigLine? TryRead(string file, int number, string rawLine)
    {
        var text = rawLine.Trim();
        if (text.Length == 0 || text[0] == '#')
            return null;

        int keyEnd = text.IndexOfAny(Blanks);
        if (keyEnd < 0)
            return new ConfigLine(file, number, text, [], "");

        var rest = text[keyEnd..].Trim();
        var args = rest.Split(Blanks, StringSplitOptions.RemoveEmptyEntries);
        return new ConfigLine(file, number, text[..keyEnd], args, rest);
    }

    public ConfigException Fail(string reason) => new(File, Number, $"{Key}: {reason}");

    /// <summary>Exactly one word, optionally followed by a <c># comment</c> (Mosquitto reads one word for such a value
    /// and ignores the rest of the line, so files carry comments there).</summary>
    public string Word()
    {
        if (Args.Length == 0)
            throw Fail("missing value");
        if (Args.Length > 1 && !Args[1].StartsWith('#'))
            throw Fail($"unexpected extra value '{Args[1]}'");
        return Args[0];
    }

    /// <summary>The rest of the line, which may contain spaces (file paths, formats).</summary>
    public string Text()
    {
        if (Rest.Length == 0)
            throw Fail("missing value");
        return Rest;
    }

    public int Int(int min, int max) => (int)Long(min, max);

    public long Long(long min, long max)
    {
        var word = Word();
        // Int128 so that a number too big for a long is reported as out of range, not as "not a number".
        if (!Int128.TryParse(word, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            throw Fail($"'{word}' is not a number");
        if (value < min || value > max)
            throw Fail($"{value} is out of range ({min}..{max})");
        return (long)value;
    }

    /// <summary>A size in bytes: a whole number, optionally followed by k, M or G (KiB, MiB, GiB; either case), e.g. <c>8M</c>.</summary>
    public long Size(long min, long max)
    {
        var word = Word();
        int shift = char.ToUpperInvariant(word[^1]) switch { 'K' => 10, 'M' => 20, 'G' => 30, _ => 0 };
        // Int128 so that a number too big for a long is reported as out of range, not as "not a size".
        if (!Int128.TryParse(shift == 0 ? word : word[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var count))
            throw Fail($"'{word}' is not a size (bytes, or a whole number followed by k, M or G, e.g. 8M)");
        // Compared before shifting, which could overflow even an Int128.
        if (count > max >> shift || count << shift < min)
            throw Fail($"{word} is out of range ({SizeText(min)}..{SizeText(max)})");
        return (long)(count << shift);
    }

    /// <summary>A size as an operator would write it: the largest unit that divides it (65536 is 64k).</summary>
    private static string SizeText(long bytes)
    {
        foreach (var (shift, unit) in new[] { (30, "G"), (20, "M"), (10, "k") })
            if (bytes != 0 && bytes % (1L << shift) == 0) return $"{bytes >> shift}{unit}";
        return bytes.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Mosquitto's booleans: true/false, and the 1/0 its parser also takes.</summary>
    public bool Bool()
    {
        var word = Word();
        return word switch
        {
            "true" or "1" => true,
            "false" or "0" => false,
            _ => throw Fail($"'{word}' is not true or false"),
        };
    }

    /// <summary>One of a fixed set of words, e.g. <c>log|disconnect</c>.</summary>
    public string Choice(params string[] allowed)
    {
        var word = Word();
        if (Array.IndexOf(allowed, word) < 0)
            throw Fail($"'{word}' is not one of {string.Join(", ", allowed)}");
        return word;
    }

    /// <summary>
    /// Mosquitto's duration syntax for persistent_client_expiration: a positive whole number and a unit,
    /// h (hours), d (days), w (weeks), m (months of 30 days) or y (years of 365 days), e.g. <c>14d</c>.
    /// </summary>
    public TimeSpan Duration()
    {
        var word = Word();
        char unit = word[^1];
        if (char.IsAsciiDigit(unit))
            throw Fail($"'{word}' needs a unit: h, d, w, m or y (e.g. 14d)");

        int hoursPerUnit = unit switch
        {
            'h' => 1,
            'd' => 24,
            'w' => 24 * 7,
            'm' => 24 * 30,
            'y' => 24 * 365,
            _ => throw Fail($"'{word}' has an unknown unit '{unit}' (use h, d, w, m or y)"),
        };
        if (!int.TryParse(word.AsSpan(0, word.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count < 1)
            throw Fail($"'{word}' is not a duration (a whole number followed by h, d, w, m or y, e.g. 14d)");
        double hours = (double)count * hoursPerUnit;
        if (hours >= TimeSpan.MaxValue.TotalHours)
            throw Fail($"'{word}' is too long");
        return TimeSpan.FromHours(hours);
    }
}
