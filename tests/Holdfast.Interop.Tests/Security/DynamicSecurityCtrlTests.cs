using System.Text;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Protocol;
using static Holdfast.Interop.Tests.DebianPeers.Mosquitto;

namespace Holdfast.Interop.Tests.Security;

/// <summary>
/// Dynamic security managed with Debian's `mosquitto_ctrl dynsec` against `holdfast serve`: a file made by `init` loads,
/// clients, roles and groups made through the $CONTROL API take effect for mosquitto_pub/mosquitto_sub, a disabled or
/// deleted client is kicked, and every change is in the file after a restart.
/// </summary>
public sealed class DynamicSecurityCtrlTests : IDisposable
{
    private const string AdminPassword = "admin-secret";
    private readonly TempDirectory _dir = new();
    private string File => _dir.Combine("dynamic-security.json");

    public void Dispose() => _dir.Dispose();

    private async Task<BrokerProcess> StartAsync() => await BrokerProcess.StartHoldfastAsync(
        $"log_type all\nplugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\nplugin_opt_config_file {File}\n",
        persistenceLocation: _dir.Combine("data"));

    /// <summary>One mosquitto_ctrl command as the admin; fails the test unless it exits 0. Returns what it printed.</summary>
    private static async Task<string> CtrlAsync(BrokerProcess broker, params string[] command)
    {
        var (exit, stdout, stderr) = await ProcessRunner.RunAsync(DebianTool.Require("mosquitto_ctrl"),
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(), "-u", "admin", "-P", AdminPassword, "dynsec", .. command], PeerTimeout);
        Assert.True(exit == 0, $"mosquitto_ctrl {string.Join(' ', command)} exited {exit}:\n{stdout}\n{stderr}");
        return stdout;
    }

    private static async Task<(int Exit, string Stderr)> PublishAsync(BrokerProcess broker, string user, string password, string topic, string text)
    {
        var (exit, _, stderr) = await ProcessRunner.RunAsync(DebianTool.Require("mosquitto_pub"),
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(), "-V", "mqttv5", "-i", Unique("ds-pub"), "-u", user, "-P", password, "-q", "1",
                "-t", topic, "-m", text], PeerTimeout);
        return (exit, stderr);
    }

    private async Task InitAsync()
    {
        var (exit, stdout, stderr) = await ProcessRunner.RunAsync(DebianTool.Require("mosquitto_ctrl"),
            ["dynsec", "init", File, "admin", AdminPassword], PeerTimeout);
        Assert.True(exit == 0, stdout + stderr);
    }

    private static ConnectPacket Connect(string clientId, string user, string password)
    {
        var connect = RawMqttClient.Connect(ProtocolVersion.V500, clientId, persistent: false);
        connect.UserName = user;
        connect.Password = Encoding.UTF8.GetBytes(password);
        return connect;
    }

    private static async Task<ReasonCode> RefusalAsync(BrokerProcess broker, ConnectPacket connect)
    {
        await using var client = await RawMqttClient.OpenAsync(broker.Port, ProtocolVersion.V500);
        await client.SendAsync(connect);
        return (await client.ReceiveAsync<ConnAckPacket>()).ReasonCode;
    }

    [SkippableFact]
    public async Task Mosquitto_ctrl_manages_users_roles_and_groups_and_the_rules_apply()
    {
        await InitAsync();
        await using var broker = await StartAsync();
        await CtrlAsync(broker, "createClient", "sensor", "-p", "sensor-secret", "-c", "sensor-1");
        await CtrlAsync(broker, "createClient", "dashboard", "-p", "dash-secret");
        await CtrlAsync(broker, "createRole", "writer");
        await CtrlAsync(broker, "addRoleACL", "writer", "publishClientSend", "plant/#", "allow");
        await CtrlAsync(broker, "addRoleACL", "writer", "publishClientSend", "plant/secret", "deny", "5");
        await CtrlAsync(broker, "addClientRole", "sensor", "writer");
        await CtrlAsync(broker, "createRole", "reader");
        await CtrlAsync(broker, "addRoleACL", "reader", "subscribePattern", "plant/#", "allow");
        await CtrlAsync(broker, "createGroup", "dashboards");
        await CtrlAsync(broker, "addGroupRole", "dashboards", "reader");
        await CtrlAsync(broker, "addGroupClient", "dashboards", "dashboard");

        Assert.Equal(["admin", "dashboard", "sensor"], Lines(await CtrlAsync(broker, "listClients")));
        string sensor = await CtrlAsync(broker, "getClient", "sensor");
        Assert.Contains("Clientid: sensor-1", sensor);
        Assert.Contains("Roles:    writer", sensor);
        Assert.Contains("Clients:   dashboard", await CtrlAsync(broker, "getGroup", "dashboards"));
        Assert.Contains("ACLs:     publishClientSend    : deny  : plant/secret (priority: 5)", await CtrlAsync(broker, "getRole", "writer"));

        // The subscribe default is deny (init's file): only what a subscribePattern covers is granted.
        var (refusedExit, _, refusedErr) = await ProcessRunner.RunAsync(DebianTool.Require("mosquitto_sub"),
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(), "-i", Unique("ds-office"), "-u", "dashboard", "-P", "dash-secret", "-t", "office/#", "-W", "20"],
            PeerTimeout);
        Assert.True(refusedExit == 0, refusedErr);
        Assert.Contains("All subscription requests were denied.", refusedErr);

        await using var sub = await SubscribeAsync(broker, "mqttv5", Unique("ds-dash"), "-u", "dashboard", "-P", "dash-secret", "-t", "plant/#", "-C", "1", "-v");
        // sensor-1 is the only client id sensor may use (mosquitto_pub's is random): refused as Mosquitto refuses, 0x87.
        Assert.Equal(ReasonCode.NotAuthorized, await RefusalAsync(broker, Connect("not-sensor-1", "sensor", "sensor-secret")));
        await CtrlAsync(broker, "setClientId", "sensor");
        foreach (var topic in new[] { "office/x", "plant/secret" })
        {
            var (exit, stderr) = await PublishAsync(broker, "sensor", "sensor-secret", topic, "no");
            Assert.True(exit == 0, stderr);
            Assert.Contains("Not authorized", stderr);
        }
        var (okExit, okErr) = await PublishAsync(broker, "sensor", "sensor-secret", "plant/temp", "21.5");
        Assert.True(okExit == 0 && !okErr.Contains("Not authorized"), okErr);
        Assert.Equal(["plant/temp 21.5"], await LinesAfterExitAsync(sub));

        // Debian's mosquitto_ctrl 2.0.11 sends {"access": "deny"}, which Mosquitto's own plugin ignores; Holdfast applies it.
        await CtrlAsync(broker, "setDefaultACLAccess", "publishClientReceive", "deny");
        Assert.Contains("publishClientReceive : deny", await CtrlAsync(broker, "getDefaultACLAccess"));
    }

    [SkippableFact]
    public async Task A_disabled_or_deleted_client_is_kicked_and_refused()
    {
        await InitAsync();
        await using var broker = await StartAsync();
        await CtrlAsync(broker, "createClient", "dashboard", "-p", "dash-secret");
        await CtrlAsync(broker, "createClient", "sensor", "-p", "sensor-secret");

        var (dashboard, _) = await RawMqttClient.ConnectAsync(broker.Port, Connect(Unique("ds-kick"), "dashboard", "dash-secret"));
        await using (dashboard)
        {
            await CtrlAsync(broker, "disableClient", "dashboard");
            Assert.Equal(ReasonCode.AdministrativeAction, (await dashboard.ReceiveAsync<DisconnectPacket>()).ReasonCode);
        }
        Assert.Equal(ReasonCode.NotAuthorized, await RefusalAsync(broker, Connect(Unique("ds-kick"), "dashboard", "dash-secret")));
        await CtrlAsync(broker, "enableClient", "dashboard");
        var (again, _) = await RawMqttClient.ConnectAsync(broker.Port, Connect(Unique("ds-kick"), "dashboard", "dash-secret"));
        await again.DisposeAsync();

        var (sensor, _) = await RawMqttClient.ConnectAsync(broker.Port, Connect(Unique("ds-kick"), "sensor", "sensor-secret"));
        await using (sensor)
        {
            await CtrlAsync(broker, "deleteClient", "sensor");
            Assert.Equal(ReasonCode.AdministrativeAction, (await sensor.ReceiveAsync<DisconnectPacket>()).ReasonCode);
        }
        Assert.Equal(ReasonCode.NotAuthorized, await RefusalAsync(broker, Connect(Unique("ds-kick"), "sensor", "sensor-secret")));
        // A wrong password is refused the same way.
        Assert.Equal(ReasonCode.NotAuthorized, await RefusalAsync(broker, Connect(Unique("ds-kick"), "dashboard", "wrong")));
    }

    [SkippableFact]
    public async Task Changes_are_in_the_file_after_a_restart_and_Mosquitto_reads_it()
    {
        await InitAsync();
        await using (var broker = await StartAsync())
        {
            await CtrlAsync(broker, "createClient", "dashboard", "-p", "dash-secret");
            await CtrlAsync(broker, "createGroup", "dashboards");
            await CtrlAsync(broker, "addGroupClient", "dashboards", "dashboard");
            await CtrlAsync(broker, "setDefaultACLAccess", "subscribe", "allow");
        }
        await using (var restarted = await StartAsync())
        {
            Assert.Equal(["admin", "dashboard"], Lines(await CtrlAsync(restarted, "listClients")));
            Assert.Contains("Clients:   dashboard", await CtrlAsync(restarted, "getGroup", "dashboards"));
            Assert.Contains("subscribe            : allow", await CtrlAsync(restarted, "getDefaultACLAccess"));
            var (client, _) = await RawMqttClient.ConnectAsync(restarted.Port, Connect(Unique("ds-restart"), "dashboard", "dash-secret"));
            await client.DisposeAsync();
        }
        // The file Holdfast saved is Mosquitto's format: Debian's mosquitto and its plugin load it.
        await using var mosquitto = await BrokerProcess.StartMosquittoAsync(
            $"plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\nplugin_opt_config_file {File}\n");
        Assert.Equal(["admin", "dashboard"], Lines(await CtrlAsync(mosquitto, "listClients")));
        Assert.Contains("Groups:   dashboards", await CtrlAsync(mosquitto, "getClient", "dashboard"));
    }
}
