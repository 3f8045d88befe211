using System.Text;
using Holdfast.Protocol;

namespace Holdfast.Broker.Tests;

/// <summary>CONNECT with a user name against the listener's password check, as Mosquitto 2 decides it.</summary>
public sealed class LoginTests
{
    /// <summary>A check that accepts any password, so the refusals below come from the broker's own rule.</summary>
    private static readonly ListenerPolicy AnyPassword = new() { CheckPassword = (_, _) => true };

    [Theory]
    [InlineData(ProtocolVersion.V500)]
    [InlineData(ProtocolVersion.V311)]
    public void A_missing_or_empty_password_never_matches(ProtocolVersion version)
    {
        const ReasonCode refused = ReasonCode.NotAuthorized;
        using var broker = TestBroker.New();
        Assert.Equal(refused, broker.Connect("no-password", version, policy: AnyPassword, userName: "u").ConnAck.ReasonCode);
        Assert.Equal(refused, broker.Connect("empty", version, policy: AnyPassword, userName: "u", password: []).ConnAck.ReasonCode);
        Assert.Equal(ReasonCode.Success, broker.Connect("given", version, policy: AnyPassword, userName: "u", password: "p"u8.ToArray()).ConnAck.ReasonCode);
    }

    [Fact]
    public void A_wrong_password_is_not_authorized_as_from_Mosquitto()
    {
        using var broker = TestBroker.New();
        var policy = new ListenerPolicy { CheckPassword = (_, password) => password.Span.SequenceEqual("right"u8) };
        Assert.Equal(ReasonCode.NotAuthorized, broker.Connect("c", policy: policy, userName: "u", password: "wrong"u8.ToArray()).ConnAck.ReasonCode);
    }

    [Fact]
    public void An_empty_password_reaches_the_credentials_check_as_none()
    {
        using var broker = TestBroker.New();
        var seen = new List<string?>();
        var policy = new ListenerPolicy
        {
            CheckCredentials = (_, _, password) =>
            {
                seen.Add(password is { } p ? Encoding.UTF8.GetString(p.Span) : null);
                return password is not null;
            },
        };
        Assert.Equal(ReasonCode.NotAuthorized, broker.Connect("empty", policy: policy, userName: "u", password: []).ConnAck.ReasonCode);
        Assert.Equal(ReasonCode.Success, broker.Connect("given", policy: policy, userName: "u", password: "p"u8.ToArray()).ConnAck.ReasonCode);
        Assert.Equal([null, "p"], seen);
    }
}
