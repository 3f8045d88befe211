using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Holdfast.Tools.Check;
using Holdfast.Client;
using Holdfast.Protocol;

namespace Holdfast.Tools.Tests.Check;

/// <summary>One <see cref="CheckPublisher"/> against a scripted broker that plays each packet of the exchange itself.</summary>
public class CheckPublisherTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task After_a_reconnect_it_resends_no_more_than_the_new_Receive_Maximum_and_the_rest_as_slots_free()
    {
        using var broker = new ScriptedBroker();
        var options = new CheckOptions { Publishers = 1, QoS = [QualityOfService.AtLeastOnce], Rate = 1000, Window = 5 };
        var clientOptions = new MqttClientOptions
        {
            Host = "127.0.0.1", Port = broker.Port, ClientId = "p0", CleanStart = false, KeepAlive = 600, SessionExpiryInterval = 60,
            ConnectTimeout = Generous,
        };
        var ledger = new CheckLedger("r", [QualityOfService.AtLeastOnce], ["s0"]);
        var publisher = new CheckPublisher(0, options, clientOptions, ledger, "r");
        using var stopPublishing = new CancellationTokenSource();
        using var stop = new CancellationTokenSource();
        var running = publisher.RunAsync(stopPublishing.Token, stop.Token);
        try
        {
            // First connection: Receive Maximum 100; the publisher fills its window of 5 and hears nothing back.
            var packetIds = new List<ushort>();
            using (var first = await broker.AcceptAsync(new ConnAckPacket { Properties = new MqttProperties { ReceiveMaximum = 100 } }))
            {
                for (int i = 0; i < 5; i++)
                {
                    var publish = Assert.IsType<PublishPacket>(await first.ReadAsync());
                    Assert.False(publish.Dup);
                    packetIds.Add(publish.PacketId);
                }
                stopPublishing.Cancel();
            }

            // The restarted broker kept the session but takes only 2 at a time.
            using var second = await broker.AcceptAsync(new ConnAckPacket { SessionPresent = true, Properties = new MqttProperties { ReceiveMaximum = 2 } });
            var resent = new List<ushort>();
            for (int i = 0; i < 2; i++) resent.Add(await ResendAsync(second.ReadAsync()));
            // Nothing more until a slot frees (sending a third would exceed the Receive Maximum).
            var next = second.ReadAsync();
            Assert.NotSame(next, await Task.WhenAny(next, Task.Delay(TimeSpan.FromMilliseconds(500))));
            // Each PUBACK frees one slot for the next resend, in the original order.
            for (int acked = 0; acked < 5; acked++)
            {
                await second.SendAsync(new PubAckPacket { PacketId = resent[acked] });
                if (resent.Count == 5) continue;
                resent.Add(await ResendAsync(next));
                next = second.ReadAsync();
            }
            Assert.Equal(packetIds, resent);
            // Every flow finished and publishing stopped: the publisher disconnects.
            Assert.IsType<DisconnectPacket>(await next);
            await running.WaitAsync(Generous);
            Assert.Equal(5, ledger.Result(QualityOfService.AtLeastOnce).Acknowledged);
        }
        finally
        {
            await stop.CancelAsync();
            await running.WaitAsync(Generous);
        }
    }

    /// <summary>The packet id of a resent PUBLISH (DUP=1).</summary>
    private static async Task<ushort> ResendAsync(Task<MqttPacket> read)
    {
        var publish = Assert.IsType<PublishPacket>(await read);
        Assert.True(publish.Dup, $"PUBLISH {publish.PacketId} after the reconnect has DUP=0");
        return publish.PacketId;
    }

    /// <summary>A listener on 127.0.0.1 that answers CONNECT with a given CONNACK and then lets the test read and write packets.</summary>
    private sealed class ScriptedBroker : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

        public ScriptedBroker() => _listener.Start();

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public async Task<Connection> AcceptAsync(ConnAckPacket connAck)
        {
            var connection = new Connection(await _listener.AcceptSocketAsync().WaitAsync(Generous));
            Assert.IsType<ConnectPacket>(await connection.ReadAsync());
            await connection.SendAsync(connAck);
            return connection;
        }

        public void Dispose() => _listener.Stop();
    }

    private sealed class Connection(Socket socket) : IDisposable
    {
        private readonly PipeReader _reader = PipeReader.Create(new NetworkStream(socket, ownsSocket: true));

        /// <summary>The client's next packet; fails the test if none comes within a generous time.</summary>
        public async Task<MqttPacket> ReadAsync()
        {
            using var timeout = new CancellationTokenSource(Generous);
            while (true)
            {
                var result = await _reader.ReadAsync(timeout.Token);
                var buffer = result.Buffer;
                if (PacketReader.TryRead(ref buffer, ProtocolVersion.V500, 0, out var packet))
                {
                    _reader.AdvanceTo(buffer.Start);
                    return packet!;
                }
                _reader.AdvanceTo(buffer.Start, buffer.End);
                Assert.False(result.IsCompleted, "the client closed the connection");
            }
        }

        public async Task SendAsync(MqttPacket packet) => await socket.SendAsync(PacketWriter.ToArray(packet, ProtocolVersion.V500), SocketFlags.None);

        public void Dispose() => socket.Dispose();
    }
}
