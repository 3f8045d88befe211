using System.CommandLine;
using System.Globalization;
using Holdfast.Protocol;

namespace Holdfast.Tools.Check;

/// <summary><c>holdfast check</c>: the flags, their validation, and the exit codes: 0 PASS, 1 FAIL (the broker violated
/// the contract), 2 usage or run error (bad flags, broker unreachable, a restart it did not come back from, a report
/// that cannot be written), 3 INCONCLUSIVE (no violation, but something was not settled).</summary>
internal static class CheckCommand
{
    public const int Pass = 0, Violation = 1, UsageError = ToolAction.UsageError, Inconclusive = 3;

    private static readonly Option<string> Host = new("--host", "-h") { Description = "Broker host.", DefaultValueFactory = _ => "localhost" };
    private static readonly Option<int> Port = new("--port", "-p") { Description = "Broker port.", DefaultValueFactory = _ => 1883 };
    private static readonly Option<string> Version = new("--protocol-version", "-V") { Description = "mqttv5 or mqttv311.", DefaultValueFactory = _ => "mqttv5" };
    private static readonly Option<string?> UserName = new("--username", "-u") { Description = "User name for every client." };
    private static readonly Option<string?> Password = new("--pw", "-P") { Description = "Password for every client." };
    private static readonly Option<int> Publishers = new("--publishers") { Description = "Sequenced publishers (P).", DefaultValueFactory = _ => 4 };
    private static readonly Option<int> Subscribers = new("--subscribers") { Description = "Persistent subscribers (S); each receives every message.", DefaultValueFactory = _ => 2 };
    private static readonly Option<string> QoS = new("--qos", "-q") { Description = "QoS levels the publishers are spread over, e.g. 1,2 (0 is reported, never a violation).", DefaultValueFactory = _ => "1,2" };
    private static readonly Option<double> Rate = new("--rate") { Description = "Messages per second per publisher.", DefaultValueFactory = _ => 50 };
    private static readonly Option<int> Window = new("--window") { Description = "Most unacknowledged messages per publisher.", DefaultValueFactory = _ => 10 };
    private static readonly Option<double> Duration = new("--duration", "-d") { Description = "Seconds of publishing (then the drain).", DefaultValueFactory = _ => 30 };
    private static readonly Option<double> CutEvery = new("--cut-every") { Description = "Mean seconds between connection cuts (0: none).", DefaultValueFactory = _ => 0 };
    private static readonly Option<double> StallEvery = new("--stall-every") { Description = "Mean seconds between connection stalls (0: none).", DefaultValueFactory = _ => 0 };
    private static readonly Option<int> StallFor = new("--stall-for") { Description = "Mean milliseconds a stall lasts.", DefaultValueFactory = _ => 2000 };
    private static readonly Option<string?> BrokerCommand = new("--broker-command") { Description = "Shell command that runs the broker; check starts it and SIGKILLs its process group to restart it." };
    private static readonly Option<string?> RestartCommand = new("--restart-command") { Description = "Shell command that kills and restarts a broker check does not own." };
    private static readonly Option<double> RestartEvery = new("--restart-every") { Description = "Mean seconds between broker restarts (0: none; needs --broker-command or --restart-command).", DefaultValueFactory = _ => 0 };
    private static readonly Option<int> KeepAlive = new("--keepalive", "-k") { Description = "Client keep-alive in seconds.", DefaultValueFactory = _ => 5 };
    private static readonly Option<int?> Seed = new("--seed") { Description = "Seed for the fault schedule (printed in the report)." };
    private static readonly Option<double> DrainTimeout = new("--drain-timeout") { Description = "Most seconds to wait, after publishing stops, for every acknowledged message to arrive (what has not arrived by then is lost; an incomplete drain is never a PASS).", DefaultValueFactory = _ => 30 };
    private static readonly Option<string?> Json = new("--json") { Description = "Write the report as JSON to FILE ('-': stdout).", Arity = ArgumentArity.ZeroOrOne };
    private static readonly Option<bool> Quiet = new("--quiet") { Description = "No progress view and no report table; only the verdict line (and JSON if asked)." };

    public static Command Create()
    {
        var command = new Command("check", "Verify that a broker loses no acknowledged QoS 1/2 message: sequenced publishers and persistent "
            + "subscribers run through a proxy that cuts and stalls connections, optionally with broker restarts (SIGKILL). "
            + "Exit 0 PASS; 1 FAIL (an acknowledged message lost, a QoS 2 duplicate, out of order, a session lost, an unexpected "
            + "message); 2 bad flags or a run error (broker unreachable, not back after a restart, report not written); "
            + "3 INCONCLUSIVE (no violation, but messages left unacknowledged, nothing acknowledged, or the drain timed out).")
        {
            Host, Port, Version, UserName, Password, Publishers, Subscribers, QoS, Rate, Window, Duration, CutEvery, StallEvery,
            StallFor, BrokerCommand, RestartCommand, RestartEvery, KeepAlive, Seed, DrainTimeout, Json, Quiet,
        };
        // Parse errors would otherwise exit 1, the code that means "violation" here; ToolAction exits 2 for them.
        command.Action = new ToolAction(async (parse, cancellationToken) =>
        {
            CheckOptions options;
            try
            {
                options = Read(parse);
            }
            catch (UsageException e)
            {
                Console.Error.WriteLine($"Error: {e.Message}");
                return UsageError;
            }
            return await new CheckRun(options).RunAsync(cancellationToken);
        });
        return command;
    }

    internal sealed class UsageException(string message) : Exception(message);

    private static CheckOptions Read(ParseResult parse)
    {
        // The names pub and sub take, but check runs MQTT 3.1.1 and 5 only.
        string versionText = parse.GetValue(Version)!;
        if (!ProtocolVersionName.TryParse(versionText, out var version) || version == ProtocolVersion.V310)
            throw new UsageException($"unknown protocol version '{versionText}' for -V (use mqttv5 or mqttv311)");
        int port = parse.GetValue(Port);
        if (port is < 1 or > 65535) throw new UsageException($"invalid port {port}");
        int publishers = Positive(parse.GetValue(Publishers), "--publishers");
        int subscribers = Positive(parse.GetValue(Subscribers), "--subscribers");
        var qos = ParseQoS(parse.GetValue(QoS)!);
        double rate = parse.GetValue(Rate);
        if (!(rate > 0)) throw new UsageException("--rate must be more than 0");
        int window = Positive(parse.GetValue(Window), "--window");
        if (window > 65535) throw new UsageException("--window must be at most 65535 (packet ids)");
        string? brokerCommand = parse.GetValue(BrokerCommand), restartCommand = parse.GetValue(RestartCommand);
        if (brokerCommand is not null && restartCommand is not null)
            throw new UsageException("give --broker-command (check runs the broker) or --restart-command (it does not), not both");
        var restartEvery = Seconds(parse.GetValue(RestartEvery), "--restart-every");
        if (restartEvery > TimeSpan.Zero && brokerCommand is null && restartCommand is null)
            throw new UsageException("--restart-every needs --broker-command or --restart-command");
        int keepAlive = parse.GetValue(KeepAlive);
        if (keepAlive is < 1 or > 65535) throw new UsageException("--keepalive must be 1..65535 seconds");
        int stallFor = parse.GetValue(StallFor);
        if (stallFor < 0) throw new UsageException("--stall-for must not be negative");
        // --json alone means stdout.
        var jsonResult = parse.GetResult(Json);
        string? json = jsonResult is null ? null : parse.GetValue(Json) ?? "-";
        // Found out now rather than after a run of many minutes.
        if (json is not null and not "-" && Path.GetDirectoryName(Path.GetFullPath(json)) is { } directory && !Directory.Exists(directory))
            throw new UsageException($"--json {json}: no directory {directory}");
        return new CheckOptions
        {
            Host = parse.GetValue(Host)!,
            Port = port,
            Version = version,
            UserName = parse.GetValue(UserName),
            Password = parse.GetValue(Password),
            Publishers = publishers,
            Subscribers = subscribers,
            QoS = qos,
            Rate = rate,
            Window = window,
            Duration = Seconds(parse.GetValue(Duration), "--duration", allowZero: false),
            CutEvery = Seconds(parse.GetValue(CutEvery), "--cut-every"),
            StallEvery = Seconds(parse.GetValue(StallEvery), "--stall-every"),
            StallFor = TimeSpan.FromMilliseconds(stallFor),
            RestartEvery = restartEvery,
            BrokerCommand = brokerCommand,
            RestartCommand = restartCommand,
            KeepAlive = (ushort)keepAlive,
            Seed = parse.GetValue(Seed) ?? Random.Shared.Next(),
            DrainTimeout = Seconds(parse.GetValue(DrainTimeout), "--drain-timeout", allowZero: false),
            Json = json,
            Quiet = parse.GetValue(Quiet),
        };
    }

    internal static IReadOnlyList<QualityOfService> ParseQoS(string text)
    {
        var levels = new List<QualityOfService>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (part is not ("0" or "1" or "2")) throw new UsageException($"invalid QoS '{part}' in --qos (use 0, 1 and 2, e.g. 1,2)");
            var level = (QualityOfService)(part[0] - '0');
            if (!levels.Contains(level)) levels.Add(level);
        }
        if (levels.Count == 0) throw new UsageException("--qos names no QoS level");
        return levels;
    }

    private static int Positive(int value, string name) => value > 0 ? value : throw new UsageException($"{name} must be at least 1");

    private static TimeSpan Seconds(double value, string name, bool allowZero = true)
    {
        if (double.IsNaN(value) || value < 0 || (!allowZero && value == 0) || value > 86400)
            throw new UsageException($"{name} must be {(allowZero ? "0 or more" : "more than 0")} seconds (at most a day), not {value.ToString(CultureInfo.InvariantCulture)}");
        return TimeSpan.FromSeconds(value);
    }
}
