using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Holdfast.Client;
using Holdfast.Protocol;

namespace Holdfast.Tools.Bench;

/// <summary><c>holdfast bench fan-in|fan-out|pairs|connections [options]</c>: the load generator. Flags follow
/// mosquitto_pub where they overlap (-h host, -p port, -V version, -q qos, -u/-P credentials).</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "Load a broker and report delivered msg/s, latency, loss, and the CPU of the generator and the broker.");
        command.Subcommands.Add(Scenario("fan-in", "P publishers -> 1 subscriber on a wildcard (--publishers, default 8)."));
        command.Subcommands.Add(Scenario("fan-out", "1 publisher -> S subscribers on its topic (--subscribers, default 50)."));
        command.Subcommands.Add(Scenario("pairs", "N publisher -> subscriber pairs, one topic each (--pairs, default 100)."));
        command.Subcommands.Add(Scenario("connections", "C idle clients (keep-alive on) held open, for the broker's memory per connection (--connections, default 10000; needs --broker-pid)."));
        return command;
    }

    private static Command Scenario(string name, string description)
    {
        var host = new Option<string>("--host", "-h") { Description = "Broker host.", DefaultValueFactory = _ => "localhost" };
        var port = new Option<int>("--port", "-p") { Description = "Broker port.", DefaultValueFactory = _ => 1883 };
        var version = new Option<string>("--protocol-version", "-V") { Description = "mqttv5 or mqttv311.", DefaultValueFactory = _ => "mqttv5" };
        var qos = new Option<int>("--qos", "-q") { Description = "QoS of the publishes and the subscriptions: 0, 1 or 2.", DefaultValueFactory = _ => 0 };
        var size = new Option<int>("--size", "-s") { Description = "Payload bytes (at least 20: sequence, publisher, send time).", DefaultValueFactory = _ => 64 };
        var publishers = new Option<int>("--publishers") { Description = "fan-in: publishers.", DefaultValueFactory = _ => 8 };
        var subscribers = new Option<int>("--subscribers") { Description = "fan-out: subscribers.", DefaultValueFactory = _ => 50 };
        var pairs = new Option<int>("--pairs") { Description = "pairs: publisher/subscriber pairs.", DefaultValueFactory = _ => 100 };
        var connections = new Option<int>("--connections") { Description = "connections: idle clients.", DefaultValueFactory = _ => 10_000 };
        var rate = new Option<double>("--rate") { Description = "Messages per second over all publishers; 0: as fast as the window allows.", DefaultValueFactory = _ => 0 };
        var window = new Option<int?>("--window")
        {
            Description = "Messages in flight per publisher: sent and not yet acknowledged (QoS 1/2, also capped by the broker's Receive Maximum) "
                + "or not yet received by every subscriber (any QoS). Default 256; with mqttv311 at QoS 1/2, 20. MQTT 3.1.1 has no Receive "
                + "Maximum, so there it must not exceed the broker's max inflight messages (Mosquitto's max_inflight_messages, default 20): "
                + "a broker may disconnect a client that sends more.",
        };
        var duration = new Option<double>("--duration", "-d") { Description = "Measured seconds (connections: seconds to hold them).", DefaultValueFactory = _ => 10 };
        var warmup = new Option<double>("--warmup") { Description = "Seconds of load before measuring.", DefaultValueFactory = _ => 2 };
        var keepAlive = new Option<int>("--keepalive", "-k") { Description = "Keep-alive seconds of every client (0: off).", DefaultValueFactory = _ => 60 };
        var sessionExpiry = new Option<uint>("--session-expiry")
        {
            Description = "Session Expiry Interval of the subscribers (MQTT 5), in seconds: above 0 their sessions are persistent, so a durable broker stores what it routes to them before acknowledging.",
        };
        var brokerPid = new Option<int?>("--broker-pid") { Description = "The broker's process id (same machine): report its CPU over the measured interval and its resident memory from /proc." };
        var user = new Option<string?>("--username", "-u") { Description = "User name for every client." };
        var password = new Option<string?>("--pw", "-P") { Description = "Password for every client." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of the table." };

        var command = new Command(name, description)
        {
            host, port, version, qos, size, publishers, subscribers, pairs, connections, rate, window, duration, warmup, keepAlive, sessionExpiry, brokerPid, user, password, json,
        };
        command.Action = new ToolAction(async (parse, _) =>
        {
            if (!ProtocolVersionName.TryParse(parse.GetValue(version)!, out var protocol) || protocol == ProtocolVersion.V310)
                return Fail($"unknown protocol version '{parse.GetValue(version)}' (use mqttv5 or mqttv311)");
            if (parse.GetValue(qos) is < 0 or > 2) return Fail("QoS must be 0, 1 or 2");
            if (parse.GetValue(keepAlive) is < 0 or > 65535) return Fail("the keep-alive must be 0 to 65535 s");
            var settings = new BenchSettings
            {
                Scenario = name,
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port),
                Version = protocol,
                QoS = (QualityOfService)parse.GetValue(qos),
                PayloadSize = parse.GetValue(size),
                Publishers = parse.GetValue(publishers),
                Subscribers = parse.GetValue(subscribers),
                Pairs = parse.GetValue(pairs),
                Connections = parse.GetValue(connections),
                Rate = parse.GetValue(rate),
                Window = parse.GetValue(window) ?? BenchSettings.DefaultWindow(protocol, (QualityOfService)parse.GetValue(qos)),
                Duration = TimeSpan.FromSeconds(parse.GetValue(duration)),
                Warmup = TimeSpan.FromSeconds(parse.GetValue(warmup)),
                KeepAlive = (ushort)parse.GetValue(keepAlive),
                SessionExpiry = parse.GetValue(sessionExpiry),
                BrokerPid = parse.GetValue(brokerPid),
                UserName = parse.GetValue(user),
                Password = parse.GetValue(password),
            };
            if (settings.Problem() is { } problem) return Fail(problem);
            if (settings.BrokerPid is { } pid && !ProcessStats.Exists(pid)) return Fail($"no process {pid} (--broker-pid)");
            return await RunAsync(settings, parse.GetValue(json));
        });
        return command;
    }

    private static async Task<int> RunAsync(BenchSettings settings, bool json)
    {
        MqttClientOptions OptionsFor(string clientId) => new()
        {
            Host = settings.Host,
            Port = settings.Port,
            Version = settings.Version,
            ClientId = clientId,
            CleanStart = true,
            KeepAlive = settings.KeepAlive,
            UserName = settings.UserName,
            Password = settings.Password is null ? null : Encoding.UTF8.GetBytes(settings.Password),
        };
        BenchReport report;
        try
        {
            report = settings.Scenario == "connections"
                ? await ConnectionsRun.RunAsync(settings, OptionsFor)
                : await MessageRun.RunAsync(settings, OptionsFor);
        }
        catch (Exception e) when (e is IOException or SocketException or MqttConnectException or TimeoutException or InvalidOperationException or MqttProtocolException)
        {
            return Fail(e.Message, exitCode: 1);
        }
        Console.Out.Write(json ? report.ToJson() + "\n" : report.ToTable());
        return 0;
    }

    /// <summary>Bad flags exit 2, as in every holdfast tool; a broker that cannot be reached or breaks off exits 1.</summary>
    private static int Fail(string message, int exitCode = ToolAction.UsageError)
    {
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Error: {message}"));
        return exitCode;
    }
}
