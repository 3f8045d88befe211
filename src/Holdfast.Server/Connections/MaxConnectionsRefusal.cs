using Holdfast.Broker;
using Holdfast.Protocol;

namespace Holdfast.Server.Connections;

/// <summary>
/// max_connections: a connection past the listener's limit is told why instead of just being closed. It waits for the
/// client's CONNECT (within the usual CONNECT timeout) and answers CONNACK 0x97 Quota exceeded, the MQTT 5 code for "an
/// implementation or administrative imposed limit has been exceeded" (0x89 Server busy means a transient load; a limit
/// the operator set is not that), or 3 Server unavailable to MQTT 3.1 and 3.1.1 clients, then closes.
/// Kept cheap on purpose, since a flood of such connections is what the limit is for: only the first bytes of CONNECT
/// are looked at (enough for the protocol level), the rest is discarded unparsed, and the broker is never involved, so
/// no session is created, taken over or touched.
/// </summary>
internal static class MaxConnectionsRefusal
{
    /// <summary>How long the socket stays open after the CONNACK so that the client reads it rather than a reset.</summary>
    private static readonly TimeSpan LingerTimeout = TimeSpan.FromSeconds(1);

    /// <summary>How long a refused client has to send its CONNECT. A client sends it as soon as it is connected; the full
    /// CONNECT timeout would let a flood of silent sockets pile up for 10 s each.</summary>
    private static readonly TimeSpan ConnectDeadline = TimeSpan.FromSeconds(2);

    /// <summary>Refusals waiting for their CONNECT at once, broker-wide; past this a refused connection is closed at once
    /// (as Mosquitto closes every one), so a flood cannot hold file descriptors the other listeners need.</summary>
    private const int MaxWaiting = 64;

    private static int _waiting;

    public static async Task RunAsync(ClientTransport transport, int limit, string listenerName, IBrokerLog log)
    {
        var input = transport.Pipe.Input;
        var output = transport.Pipe.Output;
        if (Interlocked.Increment(ref _waiting) > MaxWaiting)
        {
            Interlocked.Decrement(ref _waiting);
            if (log.IsEnabled(LogType.Notice))
                log.Notice($"Client connection from {transport.RemoteAddress} refused: max_connections {limit} reached on port {listenerName} (closed).");
            transport.Abort();
            return;
        }
        ProtocolVersion? version = null;
        bool logged = false;
        try
        {
            using var deadline = new CancellationTokenSource(ConnectDeadline);
            while (true)
            {
                var result = await input.ReadAsync(deadline.Token);
                var header = ConnectPeek.ProtocolLevel(result.Buffer, out var level);
                input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
                if (header == ConnectPeekResult.Connect) version = level;
                if (header != ConnectPeekResult.Incomplete || result.IsCompleted || result.IsCanceled) break;
            }
            logged = true;
            Refused(log, transport, limit, listenerName, version);
            if (version is { } v)
            {
                PacketWriter.Write(new ConnAckPacket { ReasonCode = ReasonCode.QuotaExceeded }, v, output);
                await output.FlushAsync(deadline.Token);
                await DiscardUntilClosedAsync(input);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException
                                       or Microsoft.AspNetCore.Connections.ConnectionResetException)
        {
            // No CONNECT in time, or the client went away: nothing more to say.
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
            if (!logged) Refused(log, transport, limit, listenerName, null);
            await output.CompleteAsync();
        }
    }

    private static void Refused(IBrokerLog log, ClientTransport transport, int limit, string listenerName, ProtocolVersion? version)
    {
        if (log.IsEnabled(LogType.Notice))
            log.Notice($"Client connection from {transport.RemoteAddress} refused: max_connections {limit} reached on port {listenerName}"
                       + (version is null ? " (no CONNECT, closed)." : $" (CONNACK {(version == ProtocolVersion.V500 ? "0x97" : "3")})."));
    }

    /// <summary>Reads and drops what the client still sends (the rest of CONNECT) until it closes or the linger ends.</summary>
    private static async Task DiscardUntilClosedAsync(System.IO.Pipelines.PipeReader input)
    {
        using var linger = new CancellationTokenSource(LingerTimeout);
        while (true)
        {
            var result = await input.ReadAsync(linger.Token);
            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted || result.IsCanceled) return;
        }
    }
}
