namespace Holdfast.Tools.Tests.Infrastructure;

public class BrokerProcessTests
{
    [SkippableTheory]
    [MemberData(nameof(BrokerProcess.Names), MemberType = typeof(BrokerProcess))]
    public async Task Each_broker_starts_on_loopback_and_stops_with_the_test(string name)
    {
        await using var broker = await BrokerProcess.StartAsync(name);
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync("127.0.0.1", broker.Port);
        Assert.True(client.Connected);
    }
}
