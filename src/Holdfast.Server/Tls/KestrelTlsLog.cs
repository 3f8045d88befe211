using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Holdfast.Server.Tls;

/// <summary>
/// Receives Kestrel's TLS middleware log (and nothing else of ASP.NET's) to learn why a handshake failed: Kestrel catches
/// the exception and only logs it. The reason goes to the connection's <see cref="TlsHandshake"/>, which logs it in
/// Mosquitto's words with the client's address.
/// </summary>
internal sealed class KestrelTlsLog : ILoggerProvider, ILogger
{
    /// <summary>The logger category prefix of Kestrel's TLS middleware.</summary>
    public const string Category = "Microsoft.AspNetCore.Server.Kestrel.Https";

    public ILogger CreateLogger(string categoryName) =>
        categoryName.StartsWith(Category, StringComparison.Ordinal) ? this : NullLogger.Instance;

    public bool IsEnabled(LogLevel logLevel) => TlsHandshake.Current is { Established: false, Failure: null };

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (TlsHandshake.Current is not { Established: false, Failure: null } handshake) return;
        if (eventId.Name == "HttpsConnectionEstablished") handshake.Established = true;
        else if (exception is not null) handshake.Failure = Describe(exception);
        else if (logLevel >= LogLevel.Debug && eventId.Name is { } name && name.Contains("TimedOut", StringComparison.Ordinal))
            handshake.Failure = formatter(state, exception).TrimEnd('.');
    }

    /// <summary>The exception chain's own words (OpenSSL's reason is usually the innermost), without "see inner exception".</summary>
    private static string Describe(Exception exception)
    {
        var parts = new List<string>();
        for (var e = exception; e is not null; e = e.InnerException)
            if (!e.Message.Contains("see inner exception", StringComparison.OrdinalIgnoreCase)) parts.Add(e.Message.TrimEnd('.'));
        return parts.Count > 0 ? "TLS handshake failed: " + string.Join(": ", parts) : "TLS handshake failed";
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public void Dispose() { }
}
