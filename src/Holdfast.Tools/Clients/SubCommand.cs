using System.CommandLine;
using Holdfast.Protocol;

namespace Holdfast.Tools.Clients;

/// <summary><c>holdfast sub</c>: mosquitto_sub's flags, plus acknowledgement control (--no-ack, --manual-ack,
/// --ack-delay) to reproduce a stuck subscriber, and --json. Exit 0 after -C messages or a clean stop, 27 when -W
/// expires (as mosquitto_sub), 1 when the broker refuses, 2 for bad flags.</summary>
internal static class SubCommand
{
    /// <param name="properties">The -D groups, taken out of the arguments before parsing (see <see cref="V5Properties"/>).</param>
    public static Command Create(V5Properties properties)
    {
        var flags = new ClientFlags();
        var topics = new Option<string[]>("--topic", "-t") { Description = "Topic filter to subscribe to (repeatable).", AllowMultipleArgumentsPerToken = false };
        var filterOut = new Option<string[]>("--filter-out", "-T") { Description = "Do not print messages on topics matching this filter (repeatable)." };
        var unsubscribe = new Option<string[]>("--unsubscribe", "-U") { Description = "Unsubscribe from this filter (repeatable)." };
        var qos = new Option<int>("--qos", "-q") { Description = "Maximum QoS of the subscriptions (0, 1, 2)." };
        var count = new Option<int>("--count", "-C") { Description = "Exit after this many messages." };
        var timeout = new Option<int>("--timeout", "-W") { Description = "Exit (code 27) after this many seconds." };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print the topic before the payload." };
        var noNewline = new Option<bool>("-N") { Description = "Do not print a newline after each payload." };
        var skipRetained = new Option<bool>("--no-retained", "-R") { Description = "Do not print retained (stale) messages." };
        var retainedOnly = new Option<bool>("--retained-only") { Description = "Print retained messages only; exit at the first live one." };
        var exitAfterSubscribe = new Option<bool>("-E") { Description = "Exit once the subscriptions are acknowledged." };
        var removeRetained = new Option<bool>("--remove-retained") { Description = "Clear every retained message received." };
        var noLocal = new Option<bool>("--nl") { Description = "MQTT 5 No Local: do not receive our own messages." };
        var retainAsPublished = new Option<bool>("--rap") { Description = "MQTT 5 Retain As Published." };
        var retainHandling = new Option<int>("--retain-handling") { Description = "MQTT 5 Retain Handling: 0 always send retained, 1 only if new, 2 never." };
        var noAck = new Option<bool>("--no-ack") { Description = "Never acknowledge QoS 1/2 messages: a stuck subscriber." };
        var manualAck = new Option<bool>("--manual-ack") { Description = "Acknowledge the oldest QoS 1/2 message each time Enter is pressed." };
        var ackDelay = new Option<double>("--ack-delay") { Description = "Acknowledge each QoS 1/2 message this many seconds after it arrives: a slow subscriber." };
        var receiveMaximum = new Option<ushort?>("--receive-maximum") { Description = "MQTT 5 Receive Maximum: how many unacknowledged QoS 1/2 messages the broker may send us." };
        var command = new Command("sub", "Subscribe and print messages (flags as mosquitto_sub). -D COMMAND IDENTIFIER VALUE sets MQTT 5 properties.")
        {
            topics, filterOut, unsubscribe, qos, count, timeout, verbose, noNewline, skipRetained, retainedOnly, exitAfterSubscribe, removeRetained,
            noLocal, retainAsPublished, retainHandling, noAck, manualAck, ackDelay, receiveMaximum,
        };
        flags.AddTo(command);
        command.Action = new ToolAction(async (parse, cancel) =>
        {
            SubscriberSettings settings;
            try
            {
                var options = flags.ToOptions(parse, "sub", properties);
                if (parse.GetValue(receiveMaximum) is { } maximum)
                {
                    if (maximum == 0) throw new ArgumentException("--receive-maximum must be at least 1");
                    options.ReceiveMaximum = maximum;
                }
                var level = ClientFlags.ParseQoS(parse.GetValue(qos), "-q");
                string[] filters = parse.GetValue(topics) ?? [];
                if (filters.Length == 0) throw new ArgumentException("-t: at least one topic filter is needed");
                foreach (var filter in filters.Concat(parse.GetValue(filterOut) ?? []).Concat(parse.GetValue(unsubscribe) ?? []))
                    if (!TopicRules.IsValidTopicFilter(filter)) throw new ArgumentException($"'{filter}' is not a valid topic filter");
                int handling = parse.GetValue(retainHandling);
                if (handling is < 0 or > 2) throw new ArgumentException("--retain-handling must be 0, 1 or 2");
                bool v5Options = parse.GetValue(noLocal) || parse.GetValue(retainAsPublished) || handling != 0;
                if (v5Options && options.Version != ProtocolVersion.V500) throw new ArgumentException("--nl, --rap and --retain-handling need -V mqttv5");
                settings = new SubscriberSettings
                {
                    Options = options,
                    Filters = filters.Select(f => new TopicSubscription
                    {
                        TopicFilter = f,
                        MaximumQoS = level,
                        NoLocal = parse.GetValue(noLocal),
                        RetainAsPublished = parse.GetValue(retainAsPublished),
                        RetainHandling = (RetainHandling)handling,
                    }).ToList(),
                    SubscribeProperties = properties.For("subscribe"),
                    Unsubscribe = [.. parse.GetValue(unsubscribe) ?? []],
                    FilterOut = [.. parse.GetValue(filterOut) ?? []],
                    Count = parse.GetValue(count),
                    Timeout = parse.GetValue(timeout) is > 0 and var seconds ? TimeSpan.FromSeconds(seconds) : null,
                    SkipRetained = parse.GetValue(skipRetained),
                    RetainedOnly = parse.GetValue(retainedOnly),
                    ExitAfterSubscribe = parse.GetValue(exitAfterSubscribe),
                    RemoveRetained = parse.GetValue(removeRetained),
                    AckMode = ChooseAckMode(parse.GetValue(noAck), parse.GetValue(manualAck), parse.GetValue(ackDelay)),
                    AckDelay = TimeSpan.FromSeconds(parse.GetValue(ackDelay)),
                    Printer = new MessagePrinter(parse.GetValue(verbose), parse.GetValue(noNewline), parse.GetValue(flags.Json)),
                };
            }
            catch (Exception e) when (e is ArgumentException or IOException)
            {
                Console.Error.WriteLine($"Error: {e.Message}");
                return 2;
            }
            return await new Subscriber(settings).RunAsync(cancel);
        });
        return command;
    }

    private static AckMode ChooseAckMode(bool never, bool manual, double delaySeconds)
    {
        if (delaySeconds < 0) throw new ArgumentException("--ack-delay cannot be negative");
        int chosen = (never ? 1 : 0) + (manual ? 1 : 0) + (delaySeconds > 0 ? 1 : 0);
        if (chosen > 1) throw new ArgumentException("choose one of --no-ack, --manual-ack and --ack-delay");
        return never ? AckMode.Never : manual ? AckMode.Manual : delaySeconds > 0 ? AckMode.Delayed : AckMode.Immediate;
    }
}
