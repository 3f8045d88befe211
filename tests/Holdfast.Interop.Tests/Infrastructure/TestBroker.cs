using System.Collections.Concurrent;
using Holdfast.Broker;
using Holdfast.Server;
using Holdfast.Server.Configuration;
using Holdfast.Storage.RocksDb;

namespace Holdfast.Interop.Tests.Infrastructure;

/// <summary>An in-process Holdfast on 127.0.0.1 with an ephemeral port, its log captured for assertions.</summary>
public sealed class TestBroker : IAsyncDisposable
{
    private readonly HoldfastServer _server;

    private TestBroker(HoldfastServer server, CapturingLog log)
    {
        _server = server;
        Log = log;
    }

    public CapturingLog Log { get; }
    public BrokerMetrics Metrics => _server.Metrics;
    public BrokerStatus Status() => _server.Status();
    public int Port => _server.Endpoints[0].Port;
    public HoldfastServer Server => _server;

    /// <summary>The port written into generated config files before they are moved to an ephemeral port.</summary>
    internal const int PlaceholderPort = 1;

    /// <summary>Starts a broker. <paramref name="configText"/> is Mosquitto-syntax config; a listener on port 0 is
    /// added when it names none. <paramref name="listenerText"/> is appended inside that listener's block.
    /// <paramref name="openStoreFile"/> opens the data directory's key-value file in place of RocksDB's own (tests wrap it
    /// to inject faults); it is used only with <c>persistence true</c> in <paramref name="configText"/>.
    /// <paramref name="adjust"/> changes the parsed config before the broker starts (e.g. a metrics_listener on port 0).</summary>
    public static async Task<TestBroker> StartAsync(string configText = "", string listenerText = "", Func<string, IStoreFile>? openStoreFile = null,
        Action<HoldfastConfig>? adjust = null)
    {
        // The config language (like Mosquitto's) refuses port 0, so the listener is written with a placeholder
        // port and switched to 0 (ephemeral) after parsing, as `holdfast serve -p 0` does.
        // In-process brokers keep nothing on disk unless a test asks (persistence true, persistence_location ...), and
        // publish no $SYS tree unless a test asks (sys_interval N): its retained messages would count in every test.
        string text = $"persistence false\nsys_interval 0\nlistener {PlaceholderPort} 127.0.0.1\nallow_anonymous true\n{listenerText}\n{configText}\nlog_type all\n";
        var config = ConfigParser.Parse(text, "test.conf");
        config.Listeners[0].Port = 0;
        adjust?.Invoke(config);
        var log = new CapturingLog();
        var server = new HoldfastServer(config, log, openStoreFile);
        await server.StartAsync();
        return new TestBroker(server, log);
    }

    public async ValueTask DisposeAsync()
    {
        await _server.StopAsync();
        await _server.DisposeAsync();
    }
}

/// <summary>Keeps every log line; tests wait for lines instead of sleeping.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "A SemaphoreSlim whose AvailableWaitHandle is never read holds no OS handle; disposing it could race a late Release.")]
public sealed class CapturingLog : IBrokerLog
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly SemaphoreSlim _changed = new(0);

    public bool IsEnabled(LogType type) => true;

    public void Write(LogType type, string message)
    {
        _lines.Enqueue(message);
        _changed.Release();
    }

    public IReadOnlyCollection<string> Lines => _lines.ToArray();

    public bool Contains(string fragment) => _lines.Any(l => l.Contains(fragment, StringComparison.Ordinal));

    /// <summary>Waits until a line containing <paramref name="fragment"/> is logged.</summary>
    public async Task<string> WaitForAsync(string fragment, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (true)
        {
            var line = _lines.FirstOrDefault(l => l.Contains(fragment, StringComparison.Ordinal));
            if (line is not null) return line;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) throw new TimeoutException($"log line containing '{fragment}' not seen; last lines:\n{string.Join("\n", _lines.TakeLast(30))}");
            await _changed.WaitAsync(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }
}
