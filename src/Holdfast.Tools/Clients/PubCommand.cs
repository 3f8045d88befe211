using System.CommandLine;
using System.Text;
using Holdfast.Client;
using Holdfast.Protocol;

namespace Holdfast.Tools.Clients;

/// <summary><c>holdfast pub</c>: mosquitto_pub's flags, on Holdfast's own client. Exit 0 when every message was sent and,
/// for QoS 1 and 2, acknowledged with success; 1 when the broker refused the connection or a message, or went away;
/// 2 for bad flags.</summary>
internal static class PubCommand
{
    /// <param name="properties">The -D groups, taken out of the arguments before parsing (see <see cref="V5Properties"/>).</param>
    public static Command Create(V5Properties properties)
    {
        var flags = new ClientFlags();
        var topic = new Option<string?>("--topic", "-t") { Description = "Topic to publish to." };
        var message = new Option<string?>("--message", "-m") { Description = "Send this message." };
        var file = new Option<string?>("--file", "-f") { Description = "Send the contents of FILE as one message." };
        var lines = new Option<bool>("--stdin-line", "-l") { Description = "Send each line of standard input as a message." };
        var stdin = new Option<bool>("--stdin-file", "-s") { Description = "Send all of standard input as one message." };
        var nullMessage = new Option<bool>("--null-message", "-n") { Description = "Send an empty message." };
        var qos = new Option<int>("--qos", "-q") { Description = "QoS 0, 1 or 2." };
        var retain = new Option<bool>("--retain", "-r") { Description = "Retain the message." };
        var repeat = new Option<int>("--repeat") { Description = "Send the message this many times.", DefaultValueFactory = _ => 1 };
        var repeatDelay = new Option<double>("--repeat-delay") { Description = "Seconds between repeats." };
        var maxInflight = new Option<int>("--max-inflight") { Description = "QoS 1/2 messages unacknowledged at once (the broker's Receive Maximum caps it).", DefaultValueFactory = _ => 20 };
        var command = new Command("pub", "Publish messages (flags as mosquitto_pub). -D COMMAND IDENTIFIER VALUE sets MQTT 5 properties.")
        {
            topic, message, file, lines, stdin, nullMessage, qos, retain, repeat, repeatDelay, maxInflight,
        };
        flags.AddTo(command);
        command.Action = new ToolAction(async (parse, cancel) =>
        {
            MqttClientOptions options;
            Func<IAsyncEnumerable<byte[]>> messages;
            QualityOfService level;
            string topicName;
            try
            {
                options = flags.ToOptions(parse, "pub", properties);
                level = ClientFlags.ParseQoS(parse.GetValue(qos), "-q");
                topicName = parse.GetValue(topic) ?? throw new ArgumentException("-t: a topic is needed");
                if (!TopicRules.IsValidTopicName(topicName)) throw new ArgumentException($"-t: '{topicName}' is not a valid topic name (no wildcards, not empty)");
                messages = MessageSource(parse.GetValue(message), parse.GetValue(file), parse.GetValue(lines), parse.GetValue(stdin), parse.GetValue(nullMessage),
                    parse.GetValue(repeat), parse.GetValue(repeatDelay));
                if (parse.GetValue(maxInflight) < 1) throw new ArgumentException("--max-inflight must be at least 1");
            }
            catch (Exception e) when (e is ArgumentException or IOException)
            {
                Console.Error.WriteLine($"Error: {e.Message}");
                return 2;
            }

            var template = new PublishPacket { Topic = topicName, QoS = level, Retain = parse.GetValue(retain), Properties = properties.For("publish") };
            var publisher = new Publisher(options, template, parse.GetValue(maxInflight), parse.GetValue(flags.Json));
            return await publisher.RunAsync(messages(), cancel);
        });
        return command;
    }

    private static Func<IAsyncEnumerable<byte[]>> MessageSource(string? message, string? file, bool lines, bool stdin, bool nullMessage, int repeat, double repeatDelay)
    {
        int sources = (message is null ? 0 : 1) + (file is null ? 0 : 1) + (lines ? 1 : 0) + (stdin ? 1 : 0) + (nullMessage ? 1 : 0);
        if (sources != 1) throw new ArgumentException("give exactly one of -m, -f, -l, -s or -n");
        if (repeat < 1) throw new ArgumentException("--repeat must be at least 1");
        if (lines) return ReadLines;
        byte[] body = message is not null ? Encoding.UTF8.GetBytes(message)
            : file is not null ? File.ReadAllBytes(file)
            : stdin ? ReadAllStdin()
            : [];
        return () => Repeat(body, repeat, TimeSpan.FromSeconds(repeatDelay));
    }

    private static async IAsyncEnumerable<byte[]> Repeat(byte[] body, int times, TimeSpan delay)
    {
        for (int i = 0; i < times; i++)
        {
            if (i > 0 && delay > TimeSpan.Zero) await Task.Delay(delay);
            yield return body;
        }
    }

    private static async IAsyncEnumerable<byte[]> ReadLines()
    {
        using var reader = new StreamReader(Console.OpenStandardInput(), Encoding.UTF8);
        while (await reader.ReadLineAsync() is { } line) yield return Encoding.UTF8.GetBytes(line);
    }

    private static byte[] ReadAllStdin()
    {
        using var memory = new MemoryStream();
        Console.OpenStandardInput().CopyTo(memory);
        return memory.ToArray();
    }
}
