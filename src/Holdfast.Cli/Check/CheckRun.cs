using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Holdfast.Client;
using Holdfast.Protocol;

namespace Holdfast.Cli.Check;

/// <summary>
/// One run of `holdfast check`: start the broker (if check owns it) and the proxy, subscribe, publish under faults for
/// the duration, drain, clean up the sessions it made, and report.
/// </summary>
internal sealed class CheckRun(CheckOptions options)
{
    /// <summary>Session Expiry Interval of every MQTT 5 client: far longer than any run, so expiry never explains a loss.</summary>
    private const uint SessionExpiry = 3600;

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var console = new CheckConsole(options.Quiet, reportToStderr: options.Json == "-");
        // A fresh id per run (not from the seed): a rerun must never resume sessions or read messages of an earlier one.
        string runId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        BrokerRestarter? restarter = null;
        try
        {
            if (options.BrokerCommand is { } command)
            {
                console.Info($"starting the broker: {command}");
                restarter = await BrokerRestarter.StartOwnedAsync(command, options.Host, options.Port, cancellationToken);
            }
            else if (options.RestartCommand is { } restart) restarter = BrokerRestarter.External(restart, options.Host, options.Port);
            return await RunWithBrokerAsync(runId, restarter, console, cancellationToken);
        }
        catch (BrokerUnavailableException e)
        {
            Console.Error.WriteLine($"Error: {e.Message}");
            return CheckCommand.UsageError;
        }
        finally
        {
            if (restarter is not null) await restarter.DisposeAsync();
        }
    }

    private async Task<int> RunWithBrokerAsync(string runId, BrokerRestarter? restarter, CheckConsole console, CancellationToken cancellationToken)
    {
        // Straight to the broker first: through the proxy, a refused connection would look like a broker that hung up.
        try
        {
            using var probe = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            await probe.ConnectAsync(options.Host, options.Port, timeout.Token);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or OperationCanceledException)
        {
            Console.Error.WriteLine($"Error: cannot reach the broker at {options.Host}:{options.Port}: "
                + (e is OperationCanceledException ? "no answer within 10 s" : e.Message));
            return CheckCommand.UsageError;
        }
        await using var proxy = new FaultProxy(options.Host, options.Port);
        proxy.Start();
        var publisherQoS = Enumerable.Range(0, options.Publishers).Select(options.QoSOf).ToArray();
        var subscriberIds = Enumerable.Range(0, options.Subscribers).Select(s => $"check-{runId}-s{s}").ToArray();
        var ledger = new CheckLedger(runId, publisherQoS, subscriberIds);
        var subscribers = subscriberIds.Select((id, s) => new CheckSubscriber(s, ClientOptions(id, proxy.Port), ledger, runId)).ToArray();
        var publishers = Enumerable.Range(0, options.Publishers)
            .Select(p => new CheckPublisher(p, options, ClientOptions($"check-{runId}-p{p}", proxy.Port), ledger, runId)).ToArray();

        try
        {
            await Task.WhenAll(subscribers.Select(s => s.SubscribeAsync(cancellationToken)));
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or TimeoutException or MqttConnectException or MqttProtocolException)
        {
            Console.Error.WriteLine($"Error: cannot reach the broker at {options.Host}:{options.Port}: {e.Message}");
            await CleanUpSessionsAsync(subscriberIds);
            return CheckCommand.UsageError;
        }
        console.Info($"run {runId}: {options.Publishers} publishers (QoS {string.Join(",", options.QoS.Select(q => (int)q))}) and "
            + $"{options.Subscribers} subscribers on holdfast-check/{runId}/# through proxy port {proxy.Port}, seed {options.Seed}");

        var clock = Stopwatch.StartNew();
        var phase = "running";
        using var stopPublishing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stopPublishing.CancelAfter(options.Duration);
        using var stopPublishers = new CancellationTokenSource();
        using var stopSubscribers = new CancellationTokenSource();
        var faults = new FaultInjector(proxy, restarter, options);
        var subscribing = subscribers.Select(s => s.RunAsync(stopSubscribers.Token)).ToArray();
        var publishing = publishers.Select(p => p.RunAsync(stopPublishing.Token, stopPublishers.Token)).ToArray();
        var faulting = faults.RunAsync(stopPublishing.Token);
        TimeSpan drainTime = TimeSpan.Zero;
        bool drainComplete = false;

        async Task RunPhasesAsync()
        {
            try { await Task.Delay(Timeout.Infinite, stopPublishing.Token); } catch (OperationCanceledException) { }
            // Faults end with the publishing (a restart under way completes first); the drain then runs on a quiet network.
            phase = "draining";
            await faulting;
            var drain = Stopwatch.StartNew();
            while (drain.Elapsed < options.DrainTimeout && !(publishing.All(p => p.IsCompleted) && ledger.Missing == 0))
                await Task.Delay(50);
            drainComplete = ledger.Missing == 0;
            drainTime = drain.Elapsed;
            phase = "stopping";
            stopPublishers.Cancel();
            stopSubscribers.Cancel();
            await Task.WhenAll([.. publishing, .. subscribing]);
            phase = "done";
        }

        CheckProgress Progress()
        {
            var (published, acknowledged, received) = ledger.Totals();
            int connections = publishers.Sum(p => p.Connections) + subscribers.Sum(s => s.Connections);
            return new CheckProgress(phase, clock.Elapsed, published, acknowledged, received, ledger.Missing, faults.Counts, connections, proxy.ActiveConnections);
        }

        await console.ShowProgressAsync(Progress, RunPhasesAsync());
        await CleanUpSessionsAsync([.. subscriberIds, .. publishers.Select(p => p.ClientId)]);

        var results = options.QoS.Order().Select(ledger.Result).ToList();
        var sessionsLost = ledger.SessionsLost;
        var violations = CheckReport.Judge(results, sessionsLost, ledger.UnexpectedCount, faults.Errors);
        var report = new CheckReport
        {
            Verdict = violations.Count == 0 ? "PASS" : "FAIL",
            Violations = violations,
            RunId = runId,
            Broker = $"{options.Host}:{options.Port}",
            Protocol = CheckReport.ProtocolName(options.Version),
            Seed = options.Seed,
            Publishers = options.Publishers,
            Subscribers = options.Subscribers,
            RatePerPublisher = options.Rate,
            Window = options.Window,
            DurationSeconds = Math.Round(options.Duration.TotalSeconds, 3),
            DrainSeconds = Math.Round(drainTime.TotalSeconds, 3),
            DrainComplete = drainComplete,
            Faults = faults.Counts,
            PublisherConnections = publishers.Sum(p => p.Connections),
            SubscriberConnections = subscribers.Sum(s => s.Connections),
            QoS = results,
            SessionsLost = [.. sessionsLost],
            Unexpected = ledger.UnexpectedCount,
            UnexpectedSamples = [.. ledger.UnexpectedSamples],
            Errors = [.. faults.Errors],
        };
        console.ShowReport(report);
        if (options.Json is { } json)
        {
            if (json == "-") Console.Out.WriteLine(report.ToJson());
            else await File.WriteAllTextAsync(json, report.ToJson() + "\n");
        }
        return report.Passed ? CheckCommand.Pass : CheckCommand.Violation;
    }

    private MqttClientOptions ClientOptions(string clientId, int proxyPort) => new()
    {
        Host = "127.0.0.1",
        Port = proxyPort,
        Version = options.Version,
        ClientId = clientId,
        CleanStart = false,
        KeepAlive = options.KeepAlive,
        SessionExpiryInterval = options.Version == ProtocolVersion.V500 ? SessionExpiry : 0,
        UserName = options.UserName,
        Password = options.Password is null ? null : Encoding.UTF8.GetBytes(options.Password),
        ConnectTimeout = TimeSpan.FromSeconds(5),
    };

    /// <summary>Ends the persistent sessions the run made (connect with Clean Start 1, and MQTT 5 Session Expiry 0, then
    /// disconnect), straight to the broker, so a run leaves nothing queued behind. Best effort.</summary>
    private async Task CleanUpSessionsAsync(IEnumerable<string> clientIds)
    {
        await Task.WhenAll(clientIds.Select(async id =>
        {
            var clean = ClientOptions(id, options.Port);
            clean.Host = options.Host;
            clean.CleanStart = true;
            clean.SessionExpiryInterval = 0;
            try
            {
                await using var connection = await MqttClientConnection.ConnectAsync(clean);
                await connection.DisconnectAsync();
            }
            catch (Exception e) when (CheckPublisher.IsConnectionFailure(e, CancellationToken.None)) { }
        }));
    }
}
