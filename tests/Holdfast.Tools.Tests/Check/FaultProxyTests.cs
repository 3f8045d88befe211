using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Holdfast.Tools.Check;

namespace Holdfast.Tools.Tests.Check;

public class FaultProxyTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(10);

    /// <summary>A listener standing in for the broker, the proxy in front of it, and one connection through it.</summary>
    private sealed class Rig : IAsyncDisposable
    {
        private readonly TcpListener _broker = new(IPAddress.Loopback, 0);
        public FaultProxy Proxy { get; private set; } = null!;
        public Socket Client { get; } = new(SocketType.Stream, ProtocolType.Tcp);
        public Socket BrokerSide { get; private set; } = null!;

        public static async Task<Rig> StartAsync()
        {
            var rig = new Rig();
            rig._broker.Start();
            rig.Proxy = new FaultProxy("127.0.0.1", ((IPEndPoint)rig._broker.LocalEndpoint).Port);
            rig.Proxy.Start();
            await rig.Client.ConnectAsync(IPAddress.Loopback, rig.Proxy.Port);
            rig.BrokerSide = await rig._broker.AcceptSocketAsync().WaitAsync(Generous);
            // The proxy registers the connection once its own broker connection is up.
            var wait = Stopwatch.StartNew();
            while (rig.Proxy.ActiveConnections == 0 && wait.Elapsed < Generous) await Task.Delay(10);
            Assert.Equal(1, rig.Proxy.ActiveConnections);
            return rig;
        }

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            BrokerSide.Dispose();
            await Proxy.DisposeAsync();
            _broker.Stop();
        }
    }

    /// <summary>Reads until the peer ends the connection: true for a reset, false for an orderly close.</summary>
    private static async Task<bool> EndsAsync(Socket socket)
    {
        var buffer = new byte[1024];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None) > 0) { }
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true;
        }
    }

    private static async Task<byte[]> ReceiveExactlyAsync(Socket socket, int count)
    {
        var data = new byte[count];
        for (int read = 0; read < count;)
        {
            int n = await socket.ReceiveAsync(data.AsMemory(read), SocketFlags.None);
            Assert.True(n > 0, $"connection ended after {read} of {count} bytes");
            read += n;
        }
        return data;
    }

    [Fact]
    public async Task Bytes_pass_both_ways_unchanged()
    {
        await using var rig = await Rig.StartAsync();
        await rig.Client.SendAsync("ping"u8.ToArray(), SocketFlags.None);
        Assert.Equal("ping"u8.ToArray(), await ReceiveExactlyAsync(rig.BrokerSide, 4).WaitAsync(Generous));
        await rig.BrokerSide.SendAsync("pong"u8.ToArray(), SocketFlags.None);
        Assert.Equal("pong"u8.ToArray(), await ReceiveExactlyAsync(rig.Client, 4).WaitAsync(Generous));
    }

    [Fact]
    public async Task A_cut_resets_both_sides()
    {
        await using var rig = await Rig.StartAsync();
        Assert.Equal(1, rig.Proxy.CutAll());
        Assert.True(await EndsAsync(rig.Client).WaitAsync(Generous), "the client saw an orderly close, not a reset");
        Assert.True(await EndsAsync(rig.BrokerSide).WaitAsync(Generous), "the broker saw an orderly close, not a reset");
        var wait = Stopwatch.StartNew();
        while (rig.Proxy.ActiveConnections > 0 && wait.Elapsed < Generous) await Task.Delay(10);
        Assert.Equal(0, rig.Proxy.ActiveConnections);
    }

    [Fact]
    public async Task A_stall_delays_bytes_both_ways_and_loses_none()
    {
        await using var rig = await Rig.StartAsync();
        var stall = TimeSpan.FromSeconds(3);
        var stalled = Stopwatch.StartNew();
        Assert.Equal(1, rig.Proxy.StallAll(stall));

        var upstream = new byte[200_000];
        var downstream = new byte[50_000];
        Random.Shared.NextBytes(upstream);
        Random.Shared.NextBytes(downstream);
        var sendingUp = rig.Client.SendAsync(upstream, SocketFlags.None);
        var sendingDown = rig.BrokerSide.SendAsync(downstream, SocketFlags.None);

        // Nothing crosses while the stall lasts (checked well inside it)...
        var first = new byte[1];
        var probe = rig.BrokerSide.ReceiveAsync(first, SocketFlags.None);
        Assert.NotSame(probe, await Task.WhenAny(probe, Task.Delay(TimeSpan.FromSeconds(1))));
        // ...and afterwards every byte arrives, in order.
        Assert.Equal(1, await probe.WaitAsync(Generous));
        byte[] up = [first[0], .. await ReceiveExactlyAsync(rig.BrokerSide, upstream.Length - 1).WaitAsync(Generous)];
        Assert.True(stalled.Elapsed >= stall - TimeSpan.FromMilliseconds(100), $"bytes crossed after {stalled.Elapsed}, inside the stall");
        Assert.Equal(upstream, up);
        Assert.Equal(downstream, await ReceiveExactlyAsync(rig.Client, downstream.Length).WaitAsync(Generous));
        await sendingUp.WaitAsync(Generous);
        await sendingDown.WaitAsync(Generous);
    }
}
