namespace Holdfast.Broker;

/// <summary>Mosquitto's log types; a line is written when its type is enabled by log_type.</summary>
[Flags]
public enum LogType
{
    None = 0,
    Error = 1,
    Warning = 2,
    Notice = 4,
    Information = 8,
    Subscribe = 16,
    Unsubscribe = 32,
    Debug = 64,
    WebSockets = 128,
    All = Error | Warning | Notice | Information | Subscribe | Unsubscribe | Debug | WebSockets,
}

/// <summary>Where the broker writes its Mosquitto-style log lines. The server decides destinations and format.</summary>
public interface IBrokerLog
{
    bool IsEnabled(LogType type);
    void Write(LogType type, string message);
}

public static class BrokerLogExtensions
{
    public static void Error(this IBrokerLog log, string message) => log.Write(LogType.Error, message);
    public static void Warning(this IBrokerLog log, string message) => log.Write(LogType.Warning, message);
    public static void Notice(this IBrokerLog log, string message) => log.Write(LogType.Notice, message);
    public static void Info(this IBrokerLog log, string message) => log.Write(LogType.Information, message);
}

/// <summary>Discards everything: for tests and embedding.</summary>
public sealed class NullBrokerLog : IBrokerLog
{
    public static readonly NullBrokerLog Instance = new();
    public bool IsEnabled(LogType type) => false;
    public void Write(LogType type, string message) { }
}
