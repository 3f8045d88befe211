using System.Text.RegularExpressions;

namespace Holdfast.Interop.Tests.Infrastructure;

/// <summary>`holdfast serve` as a child process (the real command), on an ephemeral port read from its log.</summary>
public sealed partial class BrokerProcess : IAsyncDisposable
{
    private readonly string _configPath;
    private readonly string? _ownedDataLocation;

    private BrokerProcess(ProcessRunner runner, int port, string configPath, string? ownedDataLocation)
    {
        Runner = runner;
        Port = port;
        _configPath = configPath;
        _ownedDataLocation = ownedDataLocation;
    }

    public ProcessRunner Runner { get; }
    public int Port { get; }

    public static string HoldfastDll => Path.Combine(AppContext.BaseDirectory, "holdfast.dll");

    /// <summary>Starts `holdfast serve -c FILE -p 0` with <paramref name="configText"/> after a first listener on 127.0.0.1 (moved to an
    /// ephemeral port by -p 0). The durable store is on, in <paramref name="persistenceLocation"/> (kept, for restart tests) or
    /// else in a temporary directory deleted with the process.</summary>
    public static async Task<BrokerProcess> StartAsync(string configText = "", string[]? extraArgs = null, string? persistenceLocation = null)
    {
        string path = Path.Combine(Path.GetTempPath(), $"holdfast-test-{Guid.NewGuid():N}.conf");
        string? owned = persistenceLocation is null ? Directory.CreateTempSubdirectory("holdfast-data-").FullName : null;
        // The config language refuses port 0; `-p 0` moves the first listener to an ephemeral port.
        await File.WriteAllTextAsync(path, $"listener {TestBroker.PlaceholderPort} 127.0.0.1\nallow_anonymous true\nlog_dest stdout\n"
            + $"persistence_location {persistenceLocation ?? owned}\n{configText}\n");
        var runner = ProcessRunner.Start("dotnet", [HoldfastDll, "serve", "-c", path, "-p", "0", .. extraArgs ?? []]);
        await runner.WaitForOutputAsync("running", TimeSpan.FromSeconds(30));
        var match = ListenLine().Match(runner.Stdout);
        if (!match.Success) throw new InvalidOperationException($"no listen line in:\n{runner.Stdout}");
        return new BrokerProcess(runner, int.Parse(match.Groups[1].Value), path, owned);
    }

    /// <summary>SIGKILL: the broker gets no chance to write anything more.</summary>
    public void Kill() => Runner.Kill();

    [GeneratedRegex(@"listen socket on 127\.0\.0\.1:(\d+)")]
    private static partial Regex ListenLine();

    public async ValueTask DisposeAsync()
    {
        await Runner.DisposeAsync();
        File.Delete(_configPath);
        if (_ownedDataLocation is not null) Directory.Delete(_ownedDataLocation, recursive: true);
    }
}
