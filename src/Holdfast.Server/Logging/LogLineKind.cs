using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;

namespace Holdfast.Server.Logging;

/// <summary>
/// Which lines count as "the same kind" for the repeat limit: the line with its variable parts replaced by <c>#</c>,
/// so that <c>Client connection from 10.0.0.1:5 refused: bad user name or password for 'x'.</c> and the same refusal
/// from any other address or user are one kind, while a refusal for another reason is another.
/// </summary>
internal static partial class LogLineKind
{
    // The words after which Holdfast's (and Mosquitto's) lines name a client id or an address: the id is replaced
    // whether or not it holds a digit, so sensor-1 and pump-a count alike.
    private static readonly string[] NameMarkers = ["Client", "client", "from", "as", "of"];

    private static readonly SearchValues<char> Digits = SearchValues.Create("0123456789");

    /// <summary>Units after a number (Durations.Describe, Durations.Bytes): "offline for 45 s" and "offline for 3 min 12
    /// s", or "900 B" and "1.5 GiB", are the same kind of line.</summary>
    private static readonly string[] Units = ["B", "KiB", "MiB", "GiB", "TiB", "ms", "s", "min", "h", "d"];

    /// <summary>
    /// A client's connect and disconnect lines: the operator's record of who was connected when, one line per
    /// connection event, so as many as there are clients, not a sign of a flood. Refusals are not here, nor is
    /// "New connection from", which every refused attempt writes too (a connected client's own line has its address).
    /// </summary>
    private static readonly string[] LifecycleEndings =
    [
        " disconnected.",
        " disconnected, not authorised.",
        " closed its connection.",
        " has exceeded timeout.",
        " has exceeded timeout, disconnecting.",
        " already connected, closing old connection.",
        " dropped after an internal error.",
    ];

    /// <summary>The kind of a (control-character-escaped) message, or null for a line that is never limited.</summary>
    public static string? Of(string message) => IsConnectionLifecycle(message) ? null : Normalise(message);

    /// <summary>True for the connect and disconnect lines of one client (see <see cref="LifecycleEndings"/>).</summary>
    public static bool IsConnectionLifecycle(string message)
    {
        if (message.StartsWith("New client connected from ", StringComparison.Ordinal)
            || message.StartsWith("Expiring client ", StringComparison.Ordinal)
            || message.StartsWith("Publishing will of ", StringComparison.Ordinal))
            return true;
        if (!message.StartsWith("Client ", StringComparison.Ordinal)
            || message.StartsWith("Client connection from ", StringComparison.Ordinal))
            return false;
        // Endings, not substrings: the id sits before them, so a client cannot name itself into an exempt line.
        foreach (var ending in LifecycleEndings)
            if (message.EndsWith(ending, StringComparison.Ordinal))
                return true;
        return message.Contains(" disconnected by the broker: ", StringComparison.Ordinal);
    }

    /// <summary>Quoted text (topics, user names), words holding a digit (addresses, counts, packet ids, reason codes),
    /// a <see cref="Units">unit</see> after a number and the word after a <see cref="NameMarkers">name marker</see> become
    /// <c>#</c>; a run of them becomes one <c>#</c>, so that "3 min 12 s" and "45 s" are alike.</summary>
    public static string Normalise(string message)
    {
        var text = Quoted().Replace(message, "'#'");
        var key = new StringBuilder(text.Length);
        bool afterMarker = false, afterNumber = false, lastVariable = false;
        foreach (var word in text.Split(' '))
        {
            bool number = word.AsSpan().ContainsAny(Digits);
            bool variable = afterMarker || number || (afterNumber && Array.IndexOf(Units, word.TrimEnd(',', ')', '.')) >= 0);
            afterMarker = Array.IndexOf(NameMarkers, word) >= 0;
            afterNumber = number;
            if (variable && lastVariable)
                continue;
            lastVariable = variable;
            if (key.Length > 0)
                key.Append(' ');
            key.Append(variable ? "#" : word);
        }
        return key.ToString();
    }

    [GeneratedRegex("'[^']*'")]
    private static partial Regex Quoted();
}
