using Holdfast.Broker;
using Holdfast.Server.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Holdfast.Server.Tests.Logging;

/// <summary>The repeat limit, through <see cref="MosquittoLog"/> with the default burst and window, on a fake clock.</summary>
public sealed class RepeatedLineTests : IDisposable
{
    private static readonly TimeSpan Window = LogLimits.DefaultRepeatWindow;
    private const int Burst = LogLimits.DefaultRepeatBurst;

    private readonly FakeTimeProvider _clock = new(DateTimeOffset.FromUnixTimeSeconds(1764108000));
    private readonly StringWriter _output = new();
    private readonly MosquittoLog _log;

    public RepeatedLineTests() =>
        _log = new MosquittoLog(LogType.All, [LogDestination.ToWriter(_output)], time: _clock);

    public void Dispose() => _log.Dispose();

    private string[] Lines()
    {
        Assert.True(_log.WaitUntilWritten(TimeSpan.FromSeconds(30)));
        return _output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
    }

    private static string Refusal(int i) =>
        $"Client connection from 10.0.{i / 250}.{i % 250}:{40000 + i} refused: bad user name or password for 'user{i}'.";

    [Fact]
    public void Past_the_burst_a_kind_is_suppressed_and_counted_when_the_window_ends()
    {
        for (int i = 0; i < 533; i++)
            _log.Notice(Refusal(i));
        _clock.Advance(Window - TimeSpan.FromSeconds(1));
        _log.Notice(Refusal(533));

        Assert.Equal(Enumerable.Range(0, Burst).Select(i => "1764108000: " + Refusal(i)), Lines());

        _clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal($"1764108010: Suppressed 524 similar line(s) like: {Refusal(Burst)}", Lines()[^1]);
        Assert.Equal(Burst + 1, Lines().Length);
    }

    [Fact]
    public void After_the_window_a_new_burst_is_written()
    {
        for (int i = 0; i < Burst + 5; i++)
            _log.Warning(Refusal(i));
        _clock.Advance(Window);
        for (int i = 100; i < 100 + Burst; i++)
            _log.Warning(Refusal(i));

        var lines = Lines();
        Assert.Equal(2 * Burst + 1, lines.Length);
        Assert.StartsWith("1764108010: Suppressed 5 similar line(s) like: ", lines[Burst]);
        Assert.Equal("1764108010: " + Refusal(100 + Burst - 1), lines[^1]);
    }

    [Fact]
    public void Each_kind_has_its_own_burst()
    {
        for (int i = 0; i < 50; i++)
        {
            _log.Notice(Refusal(i));
            _log.Notice($"Client connection from 10.9.9.{i}:1 refused: not authorised.");
            _log.Error($"Store write failed ({i} attempt(s) so far): disk full. QoS 1/2 publishes are not acknowledged; retrying.");
        }

        Assert.Equal(3 * Burst, Lines().Length);
    }

    [Fact]
    public void Many_clients_connecting_and_disconnecting_are_never_suppressed()
    {
        for (int i = 0; i < 1000; i++)
        {
            _log.Notice($"New client connected from 10.0.{i / 250}.{i % 250}:{40000 + i} as sensor-{i} (p2, c1, k60).");
            _log.Notice($"Client sensor-{i} disconnected.");
            _log.Notice($"Client pump-{i} closed its connection.");
        }
        _clock.Advance(Window);

        Assert.Equal(3000, Lines().Length);
    }

    [Fact]
    public void Information_and_debug_lines_are_never_suppressed()
    {
        for (int i = 0; i < 100; i++)
        {
            _log.Info($"Opening ipv4 listen socket on port {i}.");
            _log.Write(LogType.Debug, $"Received PUBLISH from sensor-{i} (d0, q0, r0, m0, 'a', ... (1 bytes))");
            _log.Write(LogType.Subscribe, $"sensor-{i} 1 plant/#");
        }

        Assert.Equal(300, Lines().Length);
    }

    [Fact]
    public void Shutdown_reports_a_count_whose_window_has_not_ended()
    {
        for (int i = 0; i < Burst + 3; i++)
            _log.Notice(Refusal(i));
        _clock.Advance(TimeSpan.FromSeconds(2));

        _log.Dispose();

        var lines = _output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(Burst + 1, lines.Length);
        Assert.Equal($"1764108002: Suppressed 3 similar line(s) like: {Refusal(Burst)}", lines[^1]);
    }
}
