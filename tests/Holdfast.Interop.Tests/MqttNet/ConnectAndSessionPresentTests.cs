using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Protocol;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>CONNECT/CONNACK with MQTTnet: clean session / clean start, Session Present, server-assigned client ids,
/// max_keepalive (MQTT 5.0 §3.1, §3.2; MQTT 3.1.1 §3.1, §3.2).</summary>
public sealed class ConnectAndSessionPresentTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Session_present_is_set_only_when_a_persistent_session_is_resumed(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync();
        string id = $"session-present-{version}";

        await using (var first = await MqttNetPeer.ConnectPersistentAsync(broker.Port, version, id))
        {
            Assert.False(first.ConnectResult.IsSessionPresent, "no session existed");
            await first.DisconnectAsync();
        }
        await broker.Log.WaitForCountAsync($"Client {id} disconnected.", 1);

        await using (var resumed = await MqttNetPeer.ConnectPersistentAsync(broker.Port, version, id))
        {
            Assert.True(resumed.ConnectResult.IsSessionPresent, "the persistent session was kept");
            await resumed.DisconnectAsync();
        }
        await broker.Log.WaitForCountAsync($"Client {id} disconnected.", 2);

        // Clean session / clean start discards it [MQTT-3.2.2-1 / MQTT-3.2.2-2] ...
        await using (var clean = await MqttNetPeer.ConnectAsync(broker.Port, version, id))
        {
            Assert.False(clean.ConnectResult.IsSessionPresent);
            await clean.DisconnectAsync();
        }
        await broker.Log.WaitForCountAsync($"Client {id} disconnected.", 3);

        // ... and a clean (expiry 0) session ends with its connection.
        await using var after = await MqttNetPeer.ConnectPersistentAsync(broker.Port, version, id);
        Assert.False(after.ConnectResult.IsSessionPresent);
    }

    [Fact]
    public async Task V5_empty_client_id_gets_an_assigned_client_identifier()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var peer = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "");

        string assigned = peer.ConnectResult.AssignedClientIdentifier;
        Assert.False(string.IsNullOrEmpty(assigned));
        await broker.Log.WaitForAsync($"as {assigned} (p5");

        // The assigned id is the session's id: a second empty-id client gets a different one.
        await using var other = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "");
        Assert.NotEqual(assigned, other.ConnectResult.AssignedClientIdentifier);
        Assert.True(peer.Client.IsConnected);
    }

    [Fact]
    public async Task V311_empty_client_id_is_accepted_with_clean_session_and_refused_without()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var clean = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V311, "");
        Assert.True(clean.Client.IsConnected);

        // [MQTT-3.1.3-8]: zero-length id with CleanSession=0 → CONNACK return code 0x02 Identifier rejected. MQTTnet
        // refuses to send such a CONNECT, so a raw client does.
        await using var raw = await RawMqttClient.OpenAsync(broker.Port, ProtocolVersion.V311);
        await raw.SendAsync(RawMqttClient.Connect(ProtocolVersion.V311, "", persistent: true));
        var connack = await raw.ReceiveAsync<ConnAckPacket>();
        Assert.Equal(ReasonCode.ClientIdentifierNotValid, connack.ReasonCode);
        await raw.Closed.Within(what: "the refused connection to close");
    }

    [Fact]
    public async Task V5_max_keepalive_is_imposed_through_server_keep_alive()
    {
        await using var broker = await TestBroker.StartAsync("max_keepalive 10");

        await using var tooLong = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "keepalive-60",
            b => b.WithKeepAlivePeriod(TimeSpan.FromSeconds(60)));
        Assert.Equal(10, tooLong.ConnectResult.ServerKeepAlive);

        // Keep-alive 0 (none) is above any maximum, too.
        await using var none = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "keepalive-0", b => b.WithNoKeepAlive());
        Assert.Equal(10, none.ConnectResult.ServerKeepAlive);

        // Within the maximum: the broker does not send Server Keep Alive, the client's value stands.
        await using var within = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "keepalive-5",
            b => b.WithKeepAlivePeriod(TimeSpan.FromSeconds(5)));
        Assert.Equal(0, within.ConnectResult.ServerKeepAlive);
        await broker.Log.WaitForAsync("as keepalive-60 (p5, c1, k10)");
        await broker.Log.WaitForAsync("as keepalive-5 (p5, c1, k5)");
    }

    [Fact]
    public async Task V311_keepalive_above_max_keepalive_is_refused()
    {
        await using var broker = await TestBroker.StartAsync("max_keepalive 10");
        var options = MqttNetPeer.Options(broker.Port, MqttProtocolVersion.V311, "v311-keepalive-60").WithKeepAlivePeriod(TimeSpan.FromSeconds(60)).Build();
        Assert.NotEqual(MqttClientConnectResultCode.Success, await TryConnectAsync(options));

        await using var within = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V311, "v311-keepalive-10",
            b => b.WithKeepAlivePeriod(TimeSpan.FromSeconds(10)));
        Assert.True(within.Client.IsConnected);
    }

    /// <summary>Connects and reports the CONNACK result, whether MQTTnet returns it or throws on a refusal.</summary>
    internal static async Task<MqttClientConnectResultCode> TryConnectAsync(MqttClientOptions options)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        try
        {
            var result = await client.ConnectAsync(options).WaitAsync(Waits.Event);
            if (result.ResultCode == MqttClientConnectResultCode.Success) await client.DisconnectAsync();
            return result.ResultCode;
        }
        catch (MQTTnet.Adapter.MqttConnectingFailedException e)
        {
            return (MqttClientConnectResultCode?)e.GetType().GetProperty("ResultCode")?.GetValue(e)
                ?? throw new Xunit.Sdk.XunitException($"connect refused without a result code: {e}");
        }
    }
}

/// <summary>AUTH when enhanced authentication is not configured (MQTT 5.0 §4.12): a CONNECT naming an Authentication
/// Method is refused with 0x8C Bad authentication method [MQTT-4.12.0-1 / §3.2.2.2].</summary>
public sealed class EnhancedAuthenticationNotConfiguredTests
{
    [Fact]
    public async Task Connect_with_an_authentication_method_is_refused_with_0x8C()
    {
        await using var broker = await TestBroker.StartAsync();
        var options = MqttNetPeer.Options(broker.Port, MqttProtocolVersion.V500, "auth-method")
            .WithEnhancedAuthentication("SCRAM-SHA-1", "client-first"u8.ToArray()).Build();
        Assert.Equal(MqttClientConnectResultCode.BadAuthenticationMethod, await ConnectAndSessionPresentTests.TryConnectAsync(options));
        await broker.Log.WaitForAsync("authentication method 'SCRAM-SHA-1' not supported");

        // The same client without it connects.
        await using var plain = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "auth-method");
        Assert.True(plain.Client.IsConnected);
    }
}
