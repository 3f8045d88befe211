namespace Holdfast.Server.Configuration;

/// <summary>
/// A config file Holdfast will not start with. The message always names the file and line so an
/// operator can go straight to it: <c>holdfast.conf:7: unknown directive 'max_inflight'</c>.
/// </summary>
public sealed class ConfigException : Exception
{
    public ConfigException(string file, int line, string reason, Exception? inner = null)
        : base(FormatMessage(file, line, reason), inner)
    {
        File = file;
        Line = line;
        Reason = reason;
    }

    /// <summary>The file as the operator named it (or as found by include_dir).</summary>
    public string File { get; }

    /// <summary>1-based line number; 0 when the problem is the file itself (missing, unreadable).</summary>
    public int Line { get; }

    /// <summary>What is wrong, naming the directive.</summary>
    public string Reason { get; }

    /// <summary>Every error found in the pass that found this one, this one first: the operator fixes them all before
    /// the next start, not one per start.</summary>
    public IReadOnlyList<ConfigException> Errors => [this, .. _more];
    private IReadOnlyList<ConfigException> _more = [];

    /// <summary>The first of <paramref name="errors"/>, carrying the others.</summary>
    internal static ConfigException All(List<ConfigException> errors)
    {
        var first = errors[0];
        first._more = errors.Skip(1).SelectMany(e => e.Errors).ToList();
        return first;
    }

    // Line 0 means "the whole file", and "holdfast.conf:0:" would send operators looking for a line that isn't there.
    private static string FormatMessage(string file, int line, string reason) =>
        line > 0 ? $"{file}:{line}: {reason}" : $"{file}: {reason}";
}
