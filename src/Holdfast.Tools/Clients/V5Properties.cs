using System.Text;
using Holdfast.Protocol;

namespace Holdfast.Tools.Clients;

/// <summary>
/// mosquitto_pub/mosquitto_sub's <c>-D COMMAND IDENTIFIER VALUE</c> (MQTT 5 properties), e.g.
/// <c>-D publish message-expiry-interval 30</c> or <c>-D connect user-property site plant-7</c>. user-property takes two
/// values, every other identifier one, which a general option parser cannot express; so these are taken out of the
/// arguments before parsing.
/// </summary>
internal sealed class V5Properties
{
    private readonly Dictionary<string, MqttProperties> _byCommand = new(StringComparer.Ordinal);

    /// <summary>connect, publish, subscribe, unsubscribe, disconnect, will.</summary>
    public static readonly string[] Commands = ["connect", "publish", "subscribe", "unsubscribe", "disconnect", "will"];

    public bool Any => _byCommand.Count > 0;

    public MqttProperties? For(string command) => _byCommand.GetValueOrDefault(command);

    /// <summary>Removes every -D group from <paramref name="args"/> and returns them parsed; throws ArgumentException naming the bad one.</summary>
    public static V5Properties Extract(ref string[] args)
    {
        var properties = new V5Properties();
        var rest = new List<string>(args.Length);
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] is not ("-D" or "--property")) { rest.Add(args[i]); continue; }
            if (i + 3 >= args.Length)
                throw new ArgumentException("-D needs COMMAND IDENTIFIER VALUE, e.g. -D publish message-expiry-interval 30");
            string command = args[i + 1], identifier = args[i + 2];
            bool twoValues = identifier == "user-property";
            int last = i + (twoValues ? 4 : 3);
            if (last >= args.Length)
                throw new ArgumentException($"-D {command} {identifier} needs {(twoValues ? "a name and a value" : "a value")}");
            if (!Commands.Contains(command))
                throw new ArgumentException($"-D: unknown command '{command}' (one of {string.Join(", ", Commands)})");
            var target = properties._byCommand.TryGetValue(command, out var existing) ? existing : properties._byCommand[command] = new MqttProperties();
            Set(target, command, identifier, args[i + 3], twoValues ? args[i + 4] : null);
            i = last;
        }
        args = [.. rest];
        return properties;
    }

    private static void Set(MqttProperties target, string command, string identifier, string value, string? second)
    {
        string Where() => $"-D {command} {identifier}";
        uint Number(uint max)
        {
            if (!uint.TryParse(value, out uint n) || n > max) throw new ArgumentException($"{Where()}: '{value}' is not a number from 0 to {max}");
            return n;
        }
        bool Allowed(params string[] commands) => commands.Contains(command)
            ? true : throw new ArgumentException($"{Where()}: {identifier} is not a {command} property");

        switch (identifier)
        {
            case "user-property": target.AddUserProperty(value, second!); break;
            case "content-type" when Allowed("publish", "will"): target.ContentType = value; break;
            case "correlation-data" when Allowed("publish", "will"): target.CorrelationData = Encoding.UTF8.GetBytes(value); break;
            case "response-topic" when Allowed("publish", "will"): target.ResponseTopic = value; break;
            case "message-expiry-interval" when Allowed("publish", "will"): target.MessageExpiryInterval = Number(uint.MaxValue); break;
            case "payload-format-indicator" when Allowed("publish", "will"): target.PayloadFormatIndicator = (byte)Number(1); break;
            case "topic-alias" when Allowed("publish"): target.TopicAlias = (ushort)Number(ushort.MaxValue); break;
            case "will-delay-interval" when Allowed("will"): target.WillDelayInterval = Number(uint.MaxValue); break;
            case "session-expiry-interval" when Allowed("connect", "disconnect"): target.SessionExpiryInterval = Number(uint.MaxValue); break;
            case "receive-maximum" when Allowed("connect"): target.ReceiveMaximum = (ushort)Number(ushort.MaxValue); break;
            case "maximum-packet-size" when Allowed("connect"): target.MaximumPacketSize = Number(uint.MaxValue); break;
            case "topic-alias-maximum" when Allowed("connect"): target.TopicAliasMaximum = (ushort)Number(ushort.MaxValue); break;
            case "request-problem-information" when Allowed("connect"): target.RequestProblemInformation = (byte)Number(1); break;
            case "request-response-information" when Allowed("connect"): target.RequestResponseInformation = (byte)Number(1); break;
            case "subscription-identifier" when Allowed("subscribe"): target.SubscriptionIdentifiers = [Number(268_435_455)]; break;
            default: throw new ArgumentException($"{Where()}: unknown property identifier '{identifier}'");
        }
    }
}
