using Holdfast.Protocol;

namespace Holdfast.Broker.Tests;

/// <summary>use_identity_as_username and use_subject_as_username: the verified certificate names the client, whatever
/// CONNECT says; without a certificate (or a CN, for the identity) the client is refused as a bad user name.</summary>
public class CertificateUserNameTests
{
    private static readonly TransportIdentity Certificate = new("line-7", @"CN=line-7,O=Plant\, Inc.,C=GB");

    private static (ConnectedClient? Client, FakeConnection Connection) Connect(ListenerPolicy policy, TransportIdentity identity,
        ProtocolVersion version = ProtocolVersion.V500)
    {
        using var broker = TestBroker.New(listeners: [policy]);
        var connection = new FakeConnection("c") { Version = version };
        var client = broker.HandleConnect(connection, new ConnectPacket
        {
            ProtocolVersion = version, ProtocolName = "MQTT", ClientId = "c", CleanStart = true, UserName = "mallory",
            Password = "secret"u8.ToArray(),
        }, policy, identity);
        return (client, connection);
    }

    [Fact]
    public void The_subject_is_the_user_name()
    {
        var (client, _) = Connect(new ListenerPolicy { UseSubjectAsUsername = true, AllowAnonymous = false }, Certificate);
        Assert.Equal(@"CN=line-7,O=Plant\, Inc.,C=GB", client?.UserName);
    }

    [Fact]
    public void The_CN_is_the_user_name()
    {
        var (client, _) = Connect(new ListenerPolicy { UseIdentityAsUsername = true, AllowAnonymous = false }, Certificate);
        Assert.Equal("line-7", client?.UserName);
    }

    [Theory]
    [InlineData(true, ProtocolVersion.V500)]
    [InlineData(false, ProtocolVersion.V500)]
    [InlineData(true, ProtocolVersion.V311)]
    public void Without_a_certificate_the_client_is_refused_as_a_bad_user_name(bool subject, ProtocolVersion version)
    {
        var policy = new ListenerPolicy { UseSubjectAsUsername = subject, UseIdentityAsUsername = !subject };
        var (client, connection) = Connect(policy, TransportIdentity.None, version);
        Assert.Null(client);
        Assert.Equal(ReasonCode.BadUserNameOrPassword, connection.CloseReason);
    }

    [Fact]
    public void A_certificate_without_a_CN_is_refused_for_the_identity_but_not_for_the_subject()
    {
        var noCn = new TransportIdentity(null, "O=Plant");
        Assert.Null(Connect(new ListenerPolicy { UseIdentityAsUsername = true }, noCn).Client);
        Assert.Equal("O=Plant", Connect(new ListenerPolicy { UseSubjectAsUsername = true }, noCn).Client?.UserName);
    }
}
