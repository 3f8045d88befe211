namespace Holdfast.Server.Logging;

public enum LogDestinationKind
{
    Stdout,
    Stderr,
    File,
    /// <summary>A caller-supplied writer: for tests and for embedding Holdfast in another process.</summary>
    Writer,
}

/// <summary>Where log lines go: Mosquitto's <c>log_dest stdout | stderr | file PATH</c>.</summary>
public sealed record LogDestination
{
    private LogDestination(LogDestinationKind kind, string? path, TextWriter? writer)
    {
        Kind = kind;
        Path = path;
        Writer = writer;
    }

    public LogDestinationKind Kind { get; }

    /// <summary>The file to append to, for <see cref="LogDestinationKind.File"/>.</summary>
    public string? Path { get; }

    /// <summary>The writer, for <see cref="LogDestinationKind.Writer"/>. The log never disposes it.</summary>
    public TextWriter? Writer { get; }

    public static LogDestination Stdout { get; } = new(LogDestinationKind.Stdout, null, null);

    public static LogDestination Stderr { get; } = new(LogDestinationKind.Stderr, null, null);

    public static LogDestination File(string path) => new(LogDestinationKind.File, path, null);

    public static LogDestination ToWriter(TextWriter writer) => new(LogDestinationKind.Writer, null, writer);

    public override string ToString() => Kind switch
    {
        LogDestinationKind.Stdout => "stdout",
        LogDestinationKind.Stderr => "stderr",
        LogDestinationKind.File => $"file {Path}",
        _ => "writer",
    };
}
