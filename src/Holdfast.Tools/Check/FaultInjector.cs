namespace Holdfast.Tools.Check;

/// <summary>
/// Schedules the faults: connection cuts and stalls through the <see cref="FaultProxy"/>, broker restarts through the
/// <see cref="BrokerRestarter"/>. Each kind runs on its own schedule, the wait before each fault drawn uniformly
/// between half and one and a half times its mean; each cut or stall hits every connection or one chosen at random
/// (even odds), so some clients lose their connection while their peers carry on. The schedule comes from the seed.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "A CancellationTokenSource without a timer holds no OS resources; disposing it could race a late Cancel.")]
internal sealed class FaultInjector(FaultProxy proxy, BrokerRestarter? restarter, CheckOptions options)
{
    private readonly Lock _gate = new();
    private readonly List<string> _errors = [];
    private readonly CancellationTokenSource _failed = new();
    private int _cuts, _connectionsCut, _stalls, _connectionsStalled, _restarts;

    public FaultCounts Counts
    {
        get { lock (_gate) return new FaultCounts(_cuts, _connectionsCut, _stalls, _connectionsStalled, _restarts); }
    }

    /// <summary>Faults that stopped the run from doing what it set out to (the broker did not come back).</summary>
    public IReadOnlyList<string> Errors { get { lock (_gate) return [.. _errors]; } }

    /// <summary>Cancelled when a fault fails (see <see cref="Errors"/>): the run cannot go on as planned.</summary>
    public CancellationToken Failed => _failed.Token;

    /// <summary>Injects faults until <paramref name="stop"/>; a restart under way then still completes (the broker must be up for the drain).</summary>
    public Task RunAsync(CancellationToken stop) => Task.WhenAll(
        EveryAsync(options.CutEvery, new Random(options.Seed), Cut, stop),
        EveryAsync(options.StallEvery, new Random(options.Seed + 1), Stall, stop),
        restarter is null ? Task.CompletedTask : EveryAsync(options.RestartEvery, new Random(options.Seed + 2), RestartAsync, stop));

    private static async Task EveryAsync(TimeSpan mean, Random random, Func<Random, Task<bool>> fault, CancellationToken stop)
    {
        if (mean <= TimeSpan.Zero) return;
        while (true)
        {
            try { await Task.Delay(mean * (0.5 + random.NextDouble()), stop); }
            catch (OperationCanceledException) { return; }
            if (!await fault(random)) return;
        }
    }

    private Task<bool> Cut(Random random)
    {
        int cut = random.Next(2) == 0 ? proxy.CutAll() : proxy.CutOne(random);
        lock (_gate) { _cuts++; _connectionsCut += cut; }
        return Task.FromResult(true);
    }

    private Task<bool> Stall(Random random)
    {
        var duration = options.StallFor * (2 * random.NextDouble());
        int stalled = random.Next(2) == 0 ? proxy.StallAll(duration) : proxy.StallOne(random, duration);
        lock (_gate) { _stalls++; _connectionsStalled += stalled; }
        return Task.FromResult(true);
    }

    private async Task<bool> RestartAsync(Random random)
    {
        try
        {
            await restarter!.RestartAsync(CancellationToken.None);
            lock (_gate) _restarts++;
            return true;
        }
        catch (BrokerUnavailableException e)
        {
            lock (_gate) _errors.Add($"broker restart {_restarts + 1} failed: {e.Message}");
            _failed.Cancel();
            return false;
        }
    }
}

internal sealed record FaultCounts(int Cuts, int ConnectionsCut, int Stalls, int ConnectionsStalled, int Restarts);
