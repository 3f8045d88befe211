namespace Holdfast.Server.Logging;

public enum LogDestinationKind
{
    Stdout,
    Stderr,
    File,
    /// <summary>A caller-supplied writer: for tests and for embedding Holdfast in another process.</summary>
    Writer,
    /// <summary>The local syslog daemon's socket (Mosquitto's log_dest syslog).</summary>
    Syslog,
}

/// <summary>Where log lines go: Mosquitto's <c>log_dest stdout | stderr | file PATH | syslog</c>.</summary>
public sealed record LogDestination
{
    private LogDestination(LogDestinationKind kind, string? path, TextWriter? writer, int facility = 0)
    {
        Kind = kind;
        Path = path;
        Writer = writer;
        Facility = facility;
    }

    public LogDestinationKind Kind { get; }

    /// <summary>The file to append to, for <see cref="LogDestinationKind.File"/>; the socket, for
    /// <see cref="LogDestinationKind.Syslog"/>.</summary>
    public string? Path { get; }

    /// <summary>The syslog facility number (3 daemon, 16..23 local0..local7), for <see cref="LogDestinationKind.Syslog"/>.</summary>
    public int Facility { get; }

    /// <summary>The writer, for <see cref="LogDestinationKind.Writer"/>. The log never disposes it.</summary>
    public TextWriter? Writer { get; }

    public static LogDestination Stdout { get; } = new(LogDestinationKind.Stdout, null, null);

    public static LogDestination Stderr { get; } = new(LogDestinationKind.Stderr, null, null);

    public static LogDestination File(string path) => new(LogDestinationKind.File, path, null);

    public static LogDestination ToWriter(TextWriter writer) => new(LogDestinationKind.Writer, null, writer);

    public static LogDestination Syslog(string socketPath, int facility) => new(LogDestinationKind.Syslog, socketPath, null, facility);

    public override string ToString() => Kind switch
    {
        LogDestinationKind.Stdout => "stdout",
        LogDestinationKind.Stderr => "stderr",
        LogDestinationKind.File => $"file {Path}",
        LogDestinationKind.Syslog => "syslog",
        _ => "writer",
    };
}
