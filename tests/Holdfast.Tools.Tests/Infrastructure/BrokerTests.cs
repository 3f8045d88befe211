namespace Holdfast.Tools.Tests.Infrastructure;

public class BrokerTests
{
    [SkippableTheory]
    [MemberData(nameof(Broker.Names), MemberType = typeof(Broker))]
    public async Task Each_broker_starts_on_loopback_and_stops_with_the_test(string name)
    {
        await using var broker = await Broker.StartAsync(name);
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync("127.0.0.1", broker.Port);
        Assert.True(client.Connected);
    }
}
