using Holdfast.Broker;

namespace Holdfast.Server.Connections;

/// <summary>
/// One connection's read deadline: CONNECT within <see cref="ConnectTimeout"/>, then anything within 1.5 × the keep-alive
/// in force [MQTT-3.1.2-22], no limit with keep-alive 0. <see cref="ReadDeadlines"/> checks it; when it passes, the
/// pending read is cancelled and <see cref="Expired"/> says why the read ended.
/// </summary>
internal sealed class TimeoutControl(BrokerClock clock, Action cancelRead) : IReadDeadline
{
    /// <summary>How long a new connection may take to send CONNECT.</summary>
    internal static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    private long _deadline = long.MaxValue;
    private int _expired;

    /// <summary>The deadline passed: the read that was cancelled ended because the client was silent too long.</summary>
    public bool Expired => Volatile.Read(ref _expired) == 1;

    /// <summary>Before CONNECT: the deadline is set once and not extended, so trickling bytes cannot keep a connection open.</summary>
    public void StartConnectWait() => Volatile.Write(ref _deadline, NowMs + (long)ConnectTimeout.TotalMilliseconds);

    /// <summary>After bytes arrived from a connected client: the next must come within 1.5 × its keep-alive.</summary>
    public void ResetKeepAlive(ushort keepAliveSeconds) =>
        Volatile.Write(ref _deadline, keepAliveSeconds > 0 ? NowMs + keepAliveSeconds * 1500L : long.MaxValue);

    /// <summary>The broker has stopped taking this client's packets (back-pressure): its silence is not its own doing.</summary>
    public void Suspend() => Volatile.Write(ref _deadline, long.MaxValue);

    private long NowMs => clock.Now;

    long IReadDeadline.ReadDeadline => Volatile.Read(ref _deadline);

    void IReadDeadline.ReadDeadlinePassed(long deadline)
    {
        // Only the deadline that was seen: a read that arrived meanwhile has set a new one.
        if (Interlocked.CompareExchange(ref _deadline, long.MaxValue, deadline) != deadline) return;
        Volatile.Write(ref _expired, 1);
        cancelRead();
    }
}
