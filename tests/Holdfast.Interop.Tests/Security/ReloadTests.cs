using Holdfast.Broker;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.Security;

/// <summary>HoldfastServer.Reload (what SIGHUP does in `holdfast serve`): password and ACL files read again, applied to
/// every later publish, subscription and delivery; a file that fails keeps the old rules; clients whose password line
/// changed are disconnected.</summary>
public sealed class ReloadTests : IDisposable
{
    private readonly AclTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public async Task A_reload_grants_and_revokes_reads_and_writes()
    {
        _files.WriteAcl("topic readwrite plant/#\n");
        await using var broker = await TestBroker.StartAsync($"acl_file {_files.Acl}");
        await using var reader = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "reload-reader");
        await reader.SubscribeAsync("#");
        await using var writer = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "reload-writer");
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await writer.PublishAsync("office/door", "before")).ReasonCode);

        _files.WriteAcl("topic readwrite plant/#\ntopic readwrite office/#\n");
        broker.Server.Reload();
        await writer.PublishAsync("office/door", "granted");
        Assert.Equal("granted", (await reader.ReceiveAsync()).Text);

        // Reads revoked, writes kept: accepted, and not delivered to the reader.
        _files.WriteAcl("topic readwrite plant/#\ntopic write office/#\n");
        broker.Server.Reload();
        Assert.Equal(MqttClientPublishReasonCode.Success, (await writer.PublishAsync("office/door", "revoked")).ReasonCode);
        await writer.PublishAsync("plant/temp", "still readable");
        Assert.Equal("still readable", (await reader.ReceiveAsync()).Text);
        reader.AssertNothingPending();
        Assert.Equal(2, broker.Log.Count("Password and ACL files reloaded (0 clients disconnected)."));
    }

    [Fact]
    public async Task A_queued_message_whose_read_access_was_revoked_is_not_delivered_on_reconnect()
    {
        _files.WriteAcl("topic readwrite plant/#\n");
        await using var broker = await TestBroker.StartAsync($"acl_file {_files.Acl}");
        await using (var subscriber = await MqttNetPeer.ConnectPersistentAsync(broker.Port, MqttProtocolVersion.V500, "reload-queued"))
            await subscriber.SubscribeAsync("plant/#");
        await using var writer = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "reload-queued-writer");
        await writer.PublishAsync("plant/a", "queued while away");

        _files.WriteAcl("topic write plant/#\ntopic read plant/b\n");
        broker.Server.Reload();
        await writer.PublishAsync("plant/b", "readable");

        await using var back = await MqttNetPeer.ConnectPersistentAsync(broker.Port, MqttProtocolVersion.V500, "reload-queued");
        Assert.Equal("readable", (await back.ReceiveAsync()).Text);
        await back.AssertNothingReceivedAsync();
        Assert.Equal(1, broker.Metrics.Dropped(DropCause.NotAuthorized));
    }

    [Fact]
    public async Task A_file_that_fails_to_load_keeps_the_old_rules_and_the_broker_running()
    {
        _files.WriteAcl("user alice\ntopic readwrite plant/#\n");
        _files.WritePasswords(("alice", "one"));
        await using var broker = await TestBroker.StartAsync($"acl_file {_files.Acl}\npassword_file {_files.Passwords}");
        await using var client = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "reload-bad", b => b.WithCredentials("alice", "one"));

        _files.WriteAcl("user alice\ntopic sometimes office/#\n");
        File.WriteAllText(_files.Passwords, "alice:plaintext\n");
        broker.Server.Reload();
        await broker.Log.WaitForAsync($"Error: {_files.Acl}:2: topic: unknown access 'sometimes' (expected read, write, readwrite or deny) (acl_file not reloaded; the previous version stays in force).");
        await broker.Log.WaitForAsync($"Error: {_files.Passwords}:1: the password of 'alice' is not a $7$ or $6$ hash");
        // The closing line says what was not reloaded, never that everything was.
        await broker.Log.WaitForAsync($"Password and ACL files reloaded except password_file {_files.Passwords}, acl_file {_files.Acl}, which kept the previous version (0 clients disconnected).");
        Assert.Equal(0, broker.Log.Count("Password and ACL files reloaded (0 clients disconnected)."));

        // The old ACL still applies, and alice (whose old line is still in force) is still connected.
        Assert.Equal(MqttClientPublishReasonCode.NoMatchingSubscribers, (await client.PublishAsync("plant/x", "x")).ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await client.PublishAsync("office/x", "x")).ReasonCode);
        Assert.True(client.Client.IsConnected);

        File.Delete(_files.Acl);
        broker.Server.Reload();
        await broker.Log.WaitForAsync($"Error: {_files.Acl}: cannot read");
        Assert.Equal(MqttClientPublishReasonCode.NoMatchingSubscribers, (await client.PublishAsync("plant/x", "x")).ReasonCode);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V500)]
    [InlineData(MqttProtocolVersion.V311)]
    public async Task A_reload_that_changes_a_password_disconnects_that_user_only(MqttProtocolVersion version)
    {
        _files.WritePasswords(("alice", "one"), ("bob", "two"));
        await using var broker = await TestBroker.StartAsync($"allow_anonymous false\npassword_file {_files.Passwords}");
        var alice = await MqttNetPeer.ConnectAsync(broker.Port, version, $"reload-alice-{version}", b => b.WithCredentials("alice", "one"));
        await using var bob = await MqttNetPeer.ConnectAsync(broker.Port, version, $"reload-bob-{version}", b => b.WithCredentials("bob", "two"));

        // Bob's line kept as it was, alice's password changed.
        string bobLine = File.ReadAllLines(_files.Passwords)[1];
        File.WriteAllText(_files.Passwords, $"alice:{Holdfast.Server.Security.PasswordFile.Hash("new")}\n{bobLine}\n");
        broker.Server.Reload();

        var disconnected = await alice.Disconnected.Within(what: "alice to be disconnected after her password changed");
        if (version == MqttProtocolVersion.V500) Assert.Equal(MqttClientDisconnectReason.NotAuthorized, disconnected.Reason);
        alice.Client.Dispose();
        await broker.Log.WaitForAsync($"Client reload-alice-{version} disconnected, not authorised.");
        await broker.Log.WaitForAsync("Password and ACL files reloaded (1 client disconnected).");
        Assert.True(bob.Client.IsConnected);
        Assert.True((await bob.PublishAsync("a", "still here")).IsSuccess);

        // The new password gets her back in.
        await using var again = await MqttNetPeer.ConnectAsync(broker.Port, version, $"reload-alice-{version}", b => b.WithCredentials("alice", "new"));
        Assert.False(bob.Disconnected.IsCompleted);
    }
}
