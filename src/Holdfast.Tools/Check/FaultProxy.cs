using System.Net;
using System.Net.Sockets;

namespace Holdfast.Tools.Check;

/// <summary>
/// A TCP proxy on 127.0.0.1 between check's clients and the broker: one broker connection per client connection, bytes
/// forwarded both ways unchanged. Its faults are what a network does to a long-lived connection:
/// a <em>cut</em> resets both sockets at once (RST, no FIN, no DISCONNECT: whatever was in flight is gone), and a
/// <em>stall</em> stops forwarding both ways for a while and then resumes with every byte kept (delay, not loss; a
/// stall longer than a keep-alive lets the client or the broker end the connection, which is part of the test).
/// </summary>
internal sealed class FaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _brokerHost;
    private readonly int _brokerPort;
    private readonly Lock _gate = new();
    private readonly List<ProxiedConnection> _connections = [];
    private readonly CancellationTokenSource _stopping = new();
    private Task _acceptLoop = Task.CompletedTask;

    public FaultProxy(string brokerHost, int brokerPort)
    {
        _brokerHost = brokerHost;
        _brokerPort = brokerPort;
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int ActiveConnections { get { lock (_gate) return _connections.Count; } }

    public void Start()
    {
        _listener.Start();
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>Resets every connection; returns how many there were.</summary>
    public int CutAll() => Cut(Snapshot());

    /// <summary>Resets one connection chosen by <paramref name="random"/>; returns 1, or 0 if there was none.</summary>
    public int CutOne(Random random) => Cut(PickOne(random));

    /// <summary>Holds every connection's bytes for <paramref name="duration"/>; returns how many connections.</summary>
    public int StallAll(TimeSpan duration) => Stall(Snapshot(), duration);

    public int StallOne(Random random, TimeSpan duration) => Stall(PickOne(random), duration);

    private static int Cut(ProxiedConnection[] connections)
    {
        foreach (var connection in connections) connection.Reset();
        return connections.Length;
    }

    private static int Stall(ProxiedConnection[] connections, TimeSpan duration)
    {
        foreach (var connection in connections) connection.Stall(duration);
        return connections.Length;
    }

    private ProxiedConnection[] Snapshot() { lock (_gate) return [.. _connections]; }

    private ProxiedConnection[] PickOne(Random random)
    {
        lock (_gate) return _connections.Count == 0 ? [] : [_connections[random.Next(_connections.Count)]];
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptSocketAsync(_stopping.Token); }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { return; }
            _ = HandleAsync(client);
        }
    }

    private async Task HandleAsync(Socket client)
    {
        client.NoDelay = true;
        var broker = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            await broker.ConnectAsync(_brokerHost, _brokerPort, timeout.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The broker is down (restarting): the client sees its connection reset, as it would without a proxy.
            ProxiedConnection.ResetSocket(client);
            broker.Dispose();
            return;
        }
        var connection = new ProxiedConnection(client, broker);
        lock (_gate) _connections.Add(connection);
        try
        {
            await connection.RunAsync();
        }
        finally
        {
            lock (_gate) _connections.Remove(connection);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Cancel();
        _listener.Stop();
        await _acceptLoop;
        CutAll();
        _stopping.Dispose();
    }

    /// <summary>One client connection and its broker connection.</summary>
    private sealed class ProxiedConnection(Socket client, Socket broker)
    {
        private readonly Lock _gate = new();
        /// <summary>Completed while forwarding runs; a stall replaces it with one that completes when the stall ends.</summary>
        private TaskCompletionSource _open = Completed();
        private long _stallEndsTicks;
        private int _closed;

        public async Task RunAsync()
        {
            // Whichever direction ends first (EOF, reset or cut) ends both: the peer then sees its connection close.
            await Task.WhenAny(PumpAsync(client, broker), PumpAsync(broker, client));
            Close(abortive: false);
        }

        public void Reset() => Close(abortive: true);

        /// <summary>Starts a stall, or extends the one under way to end no earlier than <paramref name="duration"/> from now.</summary>
        public void Stall(TimeSpan duration)
        {
            lock (_gate)
            {
                long ends = Environment.TickCount64 + (long)duration.TotalMilliseconds;
                if (ends <= _stallEndsTicks) return;
                _stallEndsTicks = ends;
                // A stall under way already has its resumer, which will see the new end.
                if (!_open.Task.IsCompleted) return;
                _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            _ = ResumeAsync();
        }

        /// <summary>Ends the stall once its (possibly extended) end has passed. Checking the end and resuming happen under
        /// one lock: a Stall() between the two would otherwise be cut short.</summary>
        private async Task ResumeAsync()
        {
            while (true)
            {
                long left;
                lock (_gate)
                {
                    left = _stallEndsTicks - Environment.TickCount64;
                    if (left <= 0)
                    {
                        _open.TrySetResult();
                        return;
                    }
                }
                await Task.Delay(TimeSpan.FromMilliseconds(left));
            }
        }

        private Task WaitOpenAsync() { lock (_gate) return _open.Task; }

        private async Task PumpAsync(Socket from, Socket to)
        {
            var buffer = new byte[16 * 1024];
            try
            {
                while (true)
                {
                    // A stall holds bytes both before reading and before writing, so nothing read is ever dropped.
                    await WaitOpenAsync();
                    int read = await from.ReceiveAsync(buffer, SocketFlags.None);
                    if (read == 0) return;
                    await WaitOpenAsync();
                    for (int sent = 0; sent < read;) sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        }

        private void Close(bool abortive)
        {
            if (Interlocked.Exchange(ref _closed, 1) == 1) return;
            if (abortive) { ResetSocket(client); ResetSocket(broker); }
            else { client.Dispose(); broker.Dispose(); }
            lock (_gate) _open.TrySetResult();
        }

        /// <summary>Linger on with a zero timeout makes Close send RST instead of FIN: the most abrupt end TCP has.</summary>
        public static void ResetSocket(Socket socket)
        {
            try { socket.LingerState = new LingerOption(true, 0); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
            socket.Dispose();
        }

        private static TaskCompletionSource Completed()
        {
            var open = new TaskCompletionSource();
            open.SetResult();
            return open;
        }
    }
}
