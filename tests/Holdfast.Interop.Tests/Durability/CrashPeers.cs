using System.Diagnostics;
using System.Text;
using Holdfast.Interop.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Diagnostics.PacketInspection;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.Durability;

/// <summary>
/// `holdfast serve` on one data directory, killed (SIGKILL) and started again as often as a test asks. Each start is a
/// new process on a new ephemeral port (-p 0); clients read <see cref="Port"/> when they reconnect. Every incarnation's
/// output is kept for the failure report.
/// </summary>
public sealed class RestartingBroker : IAsyncDisposable
{
    private readonly string _configText;
    private readonly bool _ownsDirectory;
    private readonly List<string> _outputs = [];
    private BrokerProcess? _current;
    private BrokerEndpoint? _endpoint;

    private RestartingBroker(string configText, string dataDirectory, bool ownsDirectory)
    {
        _configText = configText;
        DataDirectory = dataDirectory;
        _ownsDirectory = ownsDirectory;
    }

    public string DataDirectory { get; }

    /// <summary>The running incarnation and its port (clients reconnect to whatever it is when they try).</summary>
    public BrokerEndpoint Current => Volatile.Read(ref _endpoint)!;

    /// <summary>The running incarnation's process (its log says what it recovered).</summary>
    public BrokerProcess Process => _current!;

    /// <summary>Stdout and stderr of every incarnation so far, the running one last.</summary>
    public IReadOnlyList<string> Outputs
    {
        get
        {
            var all = new List<string>(_outputs);
            if (_current is not null) all.Add(_current.Runner.Stdout + _current.Runner.Stderr);
            return all;
        }
    }

    /// <param name="persistenceLocation">The broker's persistence_location, left in place at the end; null = a temporary
    /// directory, deleted at the end.</param>
    public static async Task<RestartingBroker> StartAsync(string configText, string? persistenceLocation = null)
    {
        var broker = persistenceLocation is null
            ? new RestartingBroker(configText, Directory.CreateTempSubdirectory("holdfast-crash-").FullName, ownsDirectory: true)
            : new RestartingBroker(configText, persistenceLocation, ownsDirectory: false);
        try
        {
            await broker.StartIncarnationAsync();
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
        return broker;
    }

    private async Task StartIncarnationAsync()
    {
        _current = await BrokerProcess.StartHoldfastAsync(_configText, persistenceLocation: DataDirectory);
        Volatile.Write(ref _endpoint, new BrokerEndpoint(_current.Port, (_endpoint?.Incarnation ?? 0) + 1));
    }

    /// <summary>SIGKILLs the running broker, waits for it to be gone, starts a new one on the same data directory.
    /// Returns how long the new one took to start (recovery included).</summary>
    /// <param name="afterKill">Runs between the SIGKILL and the wait for the process to be gone (a power cut: the killed
    /// broker may still be blocked in an fsync that only the cut ends).</param>
    public async Task<TimeSpan> KillAndRestartAsync(Func<Task>? afterKill = null)
    {
        var dying = _current!;
        dying.Kill();
        _current = null;
        if (afterKill is not null) await afterKill();
        await dying.DisposeAsync();
        _outputs.Add(dying.Runner.Stdout + dying.Runner.Stderr);
        var started = Stopwatch.StartNew();
        await StartIncarnationAsync();
        return started.Elapsed;
    }

    /// <summary>For a failure report: what each incarnation said about recovery and errors, and how it ended.</summary>
    public IEnumerable<string> Evidence()
    {
        var outputs = Outputs;
        for (int i = 0; i < outputs.Count; i++)
        {
            yield return $"--- incarnation {i + 1} ---";
            var lines = outputs[i].Split('\n', StringSplitOptions.RemoveEmptyEntries);
            foreach (var line in lines.Where(l => l.Contains("Recovered") || l.Contains("rror") || l.Contains("Store") || l.Contains("Warning")).Take(40))
                yield return line;
            foreach (var line in lines.TakeLast(10)) yield return "  " + line;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_current is not null)
        {
            await _current.DisposeAsync();
            _outputs.Add(_current.Runner.Stdout + _current.Runner.Stderr);
            _current = null;
        }
        if (!_ownsDirectory) return;
        try { Directory.Delete(DataDirectory, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>One incarnation of the broker: its port, and its number (1 for the first start).</summary>
public sealed record BrokerEndpoint(int Port, int Incarnation);

/// <summary>Options shared by the crash-test clients. The keep-alive is long enough to stay quiet: a killed broker's sockets
/// are closed by the kernel, so the clients notice at once without it.</summary>
internal static class CrashClientOptions
{
    public static MqttClientOptionsBuilder For(int port, MqttProtocolVersion version, string clientId) =>
        new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithProtocolVersion(version)
            .WithClientId(clientId)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(30))
            .WithTimeout(TimeSpan.FromSeconds(10));

    /// <summary>Pause between connection attempts while the broker is down (it is being restarted; not a wait for a condition).</summary>
    public static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(50);
}

/// <summary>What the crash-test clients share: an MQTTnet client kept connected to whichever incarnation of the broker runs,
/// by a loop that <see cref="DisposeAsync"/> stops before disconnecting.</summary>
public abstract class CrashClient(RestartingBroker broker) : IAsyncDisposable
{
    protected readonly RestartingBroker _broker = broker;
    protected readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    protected readonly CancellationTokenSource _stop = new();
    protected Task? _run;

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_run is not null) await _run.WaitAsync(Waits.Event).ContinueWith(_ => { });
        try
        {
            if (_client.IsConnected) await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build()).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception) { /* the broker may be gone */ }
        _client.Dispose();
        _stop.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// A sequenced publisher: one PUBLISH at a time (so its order is unambiguous), payload "name/sequence", a clean session
/// (see <see cref="CrashTests"/> for why), reconnecting to the broker's current port whenever the connection is lost.
/// </summary>
public sealed class CrashPublisher(RestartingBroker broker, PublisherLedger ledger) : CrashClient(broker)
{
    public PublisherLedger Ledger { get; } = ledger;


    /// <summary>Publishes acknowledged by the given incarnation (to know traffic flows again after a restart).</summary>
    public int AcknowledgedBy(BrokerEndpoint endpoint)
    {
        lock (_counter) return ReferenceEquals(_counter.Endpoint, endpoint) ? _counter.Count : 0;
    }
    private readonly AckCounter _counter = new();
    private sealed class AckCounter
    {
        public BrokerEndpoint? Endpoint;
        public int Count;
    }

    /// <summary>The sequence number of the publish under way (0 when none), for the kill report.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);
    private int _inFlight;

    public void Start() => _run = Task.Run(RunAsync);

    private async Task RunAsync()
    {
        int sequence = 0;
        BrokerEndpoint? endpoint = null;
        while (!_stop.IsCancellationRequested)
        {
            if (!_client.IsConnected)
            {
                endpoint = _broker.Current;
                if (!await TryConnectAsync(endpoint)) continue;
            }
            sequence++;
            var message = new MqttApplicationMessageBuilder()
                .WithTopic(Ledger.Topic)
                .WithPayload(PublisherLedger.Payload(Ledger.Name, sequence))
                .WithQualityOfServiceLevel(Ledger.QoS)
                .Build();
            Volatile.Write(ref _inFlight, sequence);
            try
            {
                // Not cancelled by _stop: a publish under way finishes (acknowledged or failed) before the publisher stops.
                using var timeout = new CancellationTokenSource(Waits.Event);
                var result = await _client.PublishAsync(message, timeout.Token);
                if (result.ReasonCode == MqttClientPublishReasonCode.Success)
                {
                    Ledger.Acknowledged(sequence);
                    lock (_counter)
                    {
                        if (!ReferenceEquals(_counter.Endpoint, endpoint)) (_counter.Endpoint, _counter.Count) = (endpoint, 0);
                        _counter.Count++;
                    }
                }
                else
                {
                    Ledger.Refused(sequence, $"{result.ReasonCode} {result.ReasonString}");
                }
            }
            catch (Exception e)
            {
                // Connection lost (the broker was killed) before the acknowledgement: in doubt, never resent.
                Ledger.InDoubt(sequence, e.GetType().Name);
            }
            Volatile.Write(ref _inFlight, 0);
        }
    }

    private async Task<bool> TryConnectAsync(BrokerEndpoint endpoint)
    {
        try
        {
            // Clean session: CleanSession=1 (3.1.1) / CleanStart=1 and no session expiry (5.0).
            var options = CrashClientOptions.For(endpoint.Port, Ledger.Version, Ledger.Name).WithCleanSession(true).Build();
            using var timeout = new CancellationTokenSource(Waits.Event);
            var result = await _client.ConnectAsync(options, timeout.Token);
            if (result.ResultCode == MqttClientConnectResultCode.Success)
            {
                Ledger.Connected();
                return true;
            }
        }
        catch (Exception)
        {
            // Broker down or restarting.
        }
        try { await Task.Delay(CrashClientOptions.RetryPause, _stop.Token); }
        catch (OperationCanceledException) { }
        return false;
    }

    /// <summary>Stops after the publish under way; returns once the publisher has stopped.</summary>
    public async Task StopAsync()
    {
        _stop.Cancel();
        if (_run is not null) await _run.Within(Waits.Event, $"{Ledger.Name} to stop");
    }

}

/// <summary>
/// A persistent subscriber (3.1.1 CleanSession=0; 5.0 CleanStart=0 with a session expiry) that subscribes once, on its
/// first connection, and afterwards only reconnects: what it receives after a restart comes from the stored session.
/// A lagging subscriber stays away for a random while after losing its connection, so that kills also find its
/// session offline with messages queued.
/// </summary>
public sealed class CrashSubscriber : CrashClient
{
    private readonly string _filter;
    private readonly MqttQualityOfServiceLevel _subscriptionQoS;
    private readonly Random? _lag;

    /// <param name="lag">When set, each reconnect waits 0–2.5 s (drawn from it) after the connection was lost.</param>
    public CrashSubscriber(RestartingBroker broker, SubscriberLedger ledger, string filter, MqttQualityOfServiceLevel subscriptionQoS, Random? lag = null)
        : base(broker)
    {
        Ledger = ledger;
        _filter = filter;
        _subscriptionQoS = subscriptionQoS;
        _lag = lag;
        _client.ApplicationMessageReceivedAsync += e =>
        {
            var m = e.ApplicationMessage;
            Ledger.Received(m.Topic, Encoding.UTF8.GetString(m.Payload), m.QualityOfServiceLevel, m.Dup, e.PacketIdentifier);
            return Task.CompletedTask;
        };
        _client.InspectPacketAsync += e =>
        {
            if (e.Direction == MqttPacketFlowDirection.Inbound && SubscriberLedger.PubRelPacketId(e.Buffer) is { } id) Ledger.PubRel(id);
            return Task.CompletedTask;
        };
    }

    public SubscriberLedger Ledger { get; }

    /// <summary>Connects (new session) and subscribes; fails the test if either is refused.</summary>
    public async Task ConnectAndSubscribeAsync()
    {
        using var timeout = new CancellationTokenSource(Waits.Event);
        var result = await _client.ConnectAsync(Options(), timeout.Token);
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        Assert.False(result.IsSessionPresent, $"{Ledger.ClientId}: a new client id found a session");
        Ledger.Connected(result.IsSessionPresent);
        var subscribed = await _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(_filter, _subscriptionQoS).Build());
        Assert.Equal((int)_subscriptionQoS, (int)Assert.Single(subscribed.Items).ResultCode);
        _run = Task.Run(RunAsync);
    }

    private MqttClientOptions Options()
    {
        var builder = CrashClientOptions.For(_broker.Current.Port, Ledger.Version, Ledger.ClientId).WithCleanSession(false);
        if (Ledger.Version == MqttProtocolVersion.V500) builder.WithSessionExpiryInterval(600);
        return builder.Build();
    }

    /// <summary>Reconnects whenever the connection is lost, never subscribing again.</summary>
    private async Task RunAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                if (_client.IsConnected || _away)
                {
                    // Polls the connection state (and whether it may come back): MQTTnet reports the loss on its own thread, this only
                    // bounds how soon we look.
                    await Task.Delay(20, _stop.Token);
                    continue;
                }
                if (_lag is not null && !_lagDisabled)
                {
                    int lag;
                    lock (_lag) lag = _lag.Next(0, 2500);
                    await Task.Delay(lag, _stop.Token);
                }
                while (!_stop.IsCancellationRequested && !_client.IsConnected)
                {
                    try
                    {
                        using var timeout = new CancellationTokenSource(Waits.Event);
                        var result = await _client.ConnectAsync(Options(), timeout.Token);
                        if (result.ResultCode == MqttClientConnectResultCode.Success) Ledger.Connected(result.IsSessionPresent);
                        else await Task.Delay(CrashClientOptions.RetryPause, _stop.Token);
                    }
                    catch (Exception) when (!_stop.IsCancellationRequested)
                    {
                        await Task.Delay(CrashClientOptions.RetryPause, _stop.Token);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested) { }
    }

    /// <summary>Ends the reconnect loop; lagging subscribers reconnect at once from now on.</summary>
    public void StopLagging() => _lagDisabled = true;
    private volatile bool _lagDisabled;

    /// <summary>Disconnects normally (the session stays, offline) and stays away until <see cref="ComeBack"/>, so that
    /// everything published meanwhile queues in the stored session.</summary>
    public async Task GoAwayAsync()
    {
        _away = true;
        await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build()).Within(Waits.Event, $"{Ledger.ClientId} to disconnect");
    }

    /// <summary>Reconnects (to the stored session) after <see cref="GoAwayAsync"/>.</summary>
    public void ComeBack() => _away = false;
    private volatile bool _away;

    public bool IsConnected => _client.IsConnected;

}
