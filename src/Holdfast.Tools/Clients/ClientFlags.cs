using System.CommandLine;
using System.Text;
using Holdfast.Client;
using Holdfast.Protocol;

namespace Holdfast.Tools.Clients;

/// <summary>The connection flags holdfast pub and holdfast sub share, named as in mosquitto_pub and mosquitto_sub.</summary>
internal sealed class ClientFlags
{
    public readonly Option<string> Host = new("--host", "-h") { Description = "Broker host.", DefaultValueFactory = _ => "localhost" };
    public readonly Option<int> Port = new("--port", "-p") { Description = "Broker port (1883, or 8883 with TLS).", DefaultValueFactory = _ => 0 };
    public readonly Option<string> Version = new("--protocol-version", "-V") { Description = "mqttv5 (default), mqttv311 or mqttv31.", DefaultValueFactory = _ => "mqttv5" };
    public readonly Option<string?> ClientId = new("--id", "-i") { Description = "Client id (default: a random one)." };
    public readonly Option<string?> IdPrefix = new("--id-prefix", "-I") { Description = "Client id prefix; a random suffix is added." };
    public readonly Option<bool> NoCleanSession = new("--disable-clean-session", "-c") { Description = "Keep a persistent session (3.1.1 CleanSession=0; 5.0 CleanStart=0 with a session expiry, see -x)." };
    public readonly Option<string?> SessionExpiry = new("--session-expiry-interval", "-x") { Description = "MQTT 5 session expiry in seconds; -1, 4294967295 or ∞: never (the default with -c)." };
    public readonly Option<ushort> KeepAlive = new("--keepalive", "-k") { Description = "Keep-alive in seconds (0: off).", DefaultValueFactory = _ => 60 };
    public readonly Option<string?> UserName = new("--username", "-u") { Description = "User name." };
    public readonly Option<string?> Password = new("--pw", "-P") { Description = "Password." };
    public readonly Option<string?> CaFile = new("--cafile") { Description = "Use TLS, trusting the CAs in this PEM file." };
    public readonly Option<string?> CertFile = new("--cert") { Description = "Client certificate (PEM), with --key." };
    public readonly Option<string?> KeyFile = new("--key") { Description = "Client private key (PEM)." };
    public readonly Option<bool> Insecure = new("--insecure") { Description = "Do not check that the server certificate names the host." };
    public readonly Option<string?> TlsVersion = new("--tls-version") { Description = "tlsv1.2 or tlsv1.3." };
    public readonly Option<bool> UseTls = new("--tls") { Description = "Use TLS with the system's trusted CAs." };
    public readonly Option<bool> Debug = new("--debug", "-d") { Description = "Trace every packet sent and received (on stderr)." };
    public readonly Option<string?> WillTopic = new("--will-topic") { Description = "Will topic." };
    public readonly Option<string?> WillPayload = new("--will-payload") { Description = "Will payload." };
    public readonly Option<int> WillQoS = new("--will-qos") { Description = "Will QoS (0, 1, 2)." };
    public readonly Option<bool> WillRetain = new("--will-retain") { Description = "Retain the will." };
    public readonly Option<bool> Json = new("--json") { Description = "Machine-readable output: one JSON object per line." };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Host, Port, Version, ClientId, IdPrefix, NoCleanSession, SessionExpiry, KeepAlive, UserName, Password,
                     CaFile, CertFile, KeyFile, Insecure, TlsVersion, UseTls, Debug, WillTopic, WillPayload, WillQoS, WillRetain, Json })
            command.Options.Add(option);
    }

    public static ProtocolVersion ParseVersion(string text) => ProtocolVersionName.TryParse(text, out var version)
        ? version : throw new ArgumentException($"-V: unknown protocol version '{text}' (mqttv5, mqttv311 or mqttv31)");

    /// <summary>-x as mosquitto takes it: seconds, or -1 / 4294967295 / ∞ for a session that never expires.</summary>
    private static uint? ParseSessionExpiry(string? text) => text switch
    {
        null => null,
        "-1" or "∞" => uint.MaxValue,
        _ when uint.TryParse(text, out uint seconds) => seconds,
        _ => throw new ArgumentException($"-x: '{text}' is not a number of seconds (or -1 for never)"),
    };

    public static QualityOfService ParseQoS(int value, string flag) => value is >= 0 and <= 2
        ? (QualityOfService)value
        : throw new ArgumentException($"{flag}: QoS must be 0, 1 or 2, not {value}");

    /// <summary>Builds the client options; throws ArgumentException for a flag combination that makes no sense.</summary>
    public MqttClientOptions ToOptions(ParseResult parse, string tool, V5Properties properties)
    {
        var version = ParseVersion(parse.GetValue(Version)!);
        bool persistent = parse.GetValue(NoCleanSession);
        string id = parse.GetValue(ClientId) ?? (parse.GetValue(IdPrefix) ?? $"holdfast-{tool}-") + Guid.NewGuid().ToString("N")[..8];
        if (persistent && parse.GetValue(ClientId) is null)
            throw new ArgumentException("-c needs a client id (-i): a persistent session is found again by its id");
        if (version != ProtocolVersion.V500 && properties.Any)
            throw new ArgumentException("-D (MQTT 5 properties) needs -V mqttv5");

        var tls = BuildTls(parse);
        int port = parse.GetValue(Port) is > 0 and var p ? p : tls is null ? 1883 : 8883;
        if (port > 65535) throw new ArgumentException($"-p: invalid port {port}");
        var options = new MqttClientOptions
        {
            Host = parse.GetValue(Host)!,
            Port = port,
            Version = version,
            ClientId = id,
            CleanStart = !persistent,
            KeepAlive = parse.GetValue(KeepAlive),
            SessionExpiryInterval = ParseSessionExpiry(parse.GetValue(SessionExpiry)) ?? (persistent ? uint.MaxValue : 0),
            Properties = properties.For("connect"),
            UserName = parse.GetValue(UserName),
            Password = parse.GetValue(Password) is { } password ? Encoding.UTF8.GetBytes(password) : null,
            Tls = tls,
            Will = BuildWill(parse, properties.For("will")),
        };
        if (parse.GetValue(Debug))
            options.Trace = (sent, packet) => Console.Error.WriteLine(PacketTrace.Describe(options.ClientId, sent, packet));
        return options;
    }

    private ClientTlsOptions? BuildTls(ParseResult parse)
    {
        string? ca = parse.GetValue(CaFile), cert = parse.GetValue(CertFile), key = parse.GetValue(KeyFile);
        if ((cert is null) != (key is null)) throw new ArgumentException("--cert and --key go together");
        if (ca is null && cert is null && !parse.GetValue(UseTls) && !parse.GetValue(Insecure) && parse.GetValue(TlsVersion) is null) return null;
        foreach (var file in new[] { ca, cert, key })
            if (file is not null && !File.Exists(file)) throw new ArgumentException($"{file}: no such file");
        return new ClientTlsOptions
        {
            CaFile = ca,
            CertFile = cert,
            KeyFile = key,
            Insecure = parse.GetValue(Insecure),
            Protocols = parse.GetValue(TlsVersion) is { } v ? ClientTlsOptions.ParseVersion(v) : System.Security.Authentication.SslProtocols.None,
        };
    }

    private WillMessage? BuildWill(ParseResult parse, MqttProperties? willProperties)
    {
        string? topic = parse.GetValue(WillTopic);
        if (topic is null)
        {
            if (parse.GetValue(WillPayload) is not null || willProperties is not null)
                throw new ArgumentException("--will-payload and -D will need --will-topic");
            return null;
        }
        if (!TopicRules.IsValidTopicName(topic)) throw new ArgumentException($"--will-topic: '{topic}' is not a valid topic name");
        return new WillMessage
        {
            Topic = topic,
            Payload = Encoding.UTF8.GetBytes(parse.GetValue(WillPayload) ?? ""),
            QoS = ParseQoS(parse.GetValue(WillQoS), "--will-qos"),
            Retain = parse.GetValue(WillRetain),
            Properties = willProperties,
        };
    }
}
