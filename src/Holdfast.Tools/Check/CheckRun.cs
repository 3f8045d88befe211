using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Holdfast.Client;
using Holdfast.Protocol;

namespace Holdfast.Tools.Check;

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

        using var stopSubscribers = new CancellationTokenSource();
        // Each subscriber reads from its own SUBACK on, not once all are in: a slow SUBACK for one must not leave the
        // others unread past their keep-alive (an unread PINGRESP ends a connection).
        var subscribed = subscribers.Select(s => s.SubscribeAsync(cancellationToken)).ToArray();
        var subscribing = subscribers.Select((s, i) => s.RunAsync(subscribed[i], stopSubscribers.Token)).ToArray();
        try
        {
            await Task.WhenAll(subscribed);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or TimeoutException or MqttConnectException
            or MqttProtocolException or BrokerUnavailableException)
        {
            Console.Error.WriteLine(e is BrokerUnavailableException
                ? $"Error: {e.Message}"
                : $"Error: cannot reach the broker at {options.Host}:{options.Port}: {e.Message}");
            // The subscribers that did subscribe disconnect; their sessions are then ended.
            stopSubscribers.Cancel();
            await Task.WhenAll(subscribing);
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
        var faults = new FaultInjector(proxy, restarter, options);
        using var publishingEnds = CancellationTokenSource.CreateLinkedTokenSource(stopPublishing.Token, faults.Failed);
        var publishing = publishers.Select(p => p.RunAsync(stopPublishing.Token, stopPublishers.Token)).ToArray();
        var faulting = faults.RunAsync(stopPublishing.Token);
        TimeSpan drainTime = TimeSpan.Zero;
        bool drainComplete = false, runFailed = false;
        long awaited = 0;

        async Task RunPhasesAsync()
        {
            try { await Task.Delay(Timeout.Infinite, publishingEnds.Token); } catch (OperationCanceledException) { }
            stopPublishing.Cancel();
            // Faults end with the publishing (a restart under way completes first); the drain then runs on a quiet network.
            phase = "draining";
            await faulting;
            // A broker that did not come back from a restart (during the publishing, which it ends early, or the restart
            // under way when the publishing ended) leaves no drain to wait for: it could only time out. The run is an
            // error, reported with what it measured until then.
            runFailed = faults.Failed.IsCancellationRequested;
            var drain = Stopwatch.StartNew();
            if (!runFailed)
            {
                while (drain.Elapsed < options.DrainTimeout && !(publishing.All(p => p.IsCompleted) && ledger.Missing == 0))
                    await Task.Delay(50, CancellationToken.None);
            }
            drainComplete = !runFailed && publishing.All(p => p.IsCompleted) && ledger.Missing == 0;
            awaited = ledger.Missing;
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
        var violations = CheckReport.Judge(results, sessionsLost, ledger.UnexpectedCount);
        var unsettled = CheckReport.Settle(results, drainTimedOut: !runFailed && !drainComplete, drainTime, awaited,
            publishers.Sum(p => p.AwaitingCompletion));
        var errors = faults.Errors;
        var report = new CheckReport
        {
            Verdict = CheckReport.Decide(violations, unsettled, errors),
            Violations = violations,
            Unsettled = unsettled,
            RunId = runId,
            Broker = $"{options.Host}:{options.Port}",
            Protocol = ProtocolVersionName.Of(options.Version),
            Seed = options.Seed,
            Publishers = options.Publishers,
            Subscribers = options.Subscribers,
            RatePerPublisher = options.Rate,
            Window = options.Window,
            DurationSeconds = Math.Round(options.Duration.TotalSeconds, 3),
            DrainSeconds = Math.Round(drainTime.TotalSeconds, 3),
            DrainComplete = drainComplete,
            AwaitedAtDrainEnd = awaited,
            Faults = faults.Counts,
            PublisherConnections = publishers.Sum(p => p.Connections),
            SubscriberConnections = subscribers.Sum(s => s.Connections),
            QoS = results,
            SessionsLost = [.. sessionsLost],
            Unexpected = ledger.UnexpectedCount,
            UnexpectedSamples = [.. ledger.UnexpectedSamples],
            Errors = [.. errors],
        };
        console.ShowReport(report);
        foreach (var error in errors) Console.Error.WriteLine($"Error: {error} (the report shows what was measured until then)");
        if (options.Json is { } json)
        {
            try
            {
                if (json == "-") Console.Out.WriteLine(report.ToJson());
                else await File.WriteAllTextAsync(json, report.ToJson() + "\n", CancellationToken.None);
            }
            catch (Exception e)
            {
                // Exit 1 would read as a violation: not writing the report is an error of the run, whatever the verdict.
                Console.Error.WriteLine($"Error: cannot write the JSON report to {json}: {e.Message} (verdict was {report.Verdict})");
                return CheckCommand.UsageError;
            }
        }
        return report.ExitCode;
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
