using Holdfast.Broker;
using Holdfast.Server.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Holdfast.Server.Tests.Logging;

/// <summary>The log's writer thread, seen through <see cref="MosquittoLog"/>: callers queue, the thread writes, and a
/// stuck destination costs lines (counted and reported), never a caller's time.</summary>
public class AsyncLogWriterTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private const string Dropped = "line(s) dropped, the log destination could not keep up.";

    private readonly FakeTimeProvider _clock = new(DateTimeOffset.FromUnixTimeSeconds(1764108000));

    private MosquittoLog Create(TextWriter output, LogLimits? limits = null) =>
        new(LogType.All, [LogDestination.ToWriter(output)], time: _clock, limits: limits);

    private static void Written(MosquittoLog log) => Assert.True(log.WaitUntilWritten(Patience));

    /// <summary>Writes a first line and waits until the writer thread hangs on it at the destination.</summary>
    private static void StickOn(MosquittoLog log, GatedWriter output, string line)
    {
        output.Block();
        log.Info(line);
        Assert.True(output.Stuck.Wait(Patience));
    }

    [Fact]
    public async Task A_caller_never_waits_for_a_stuck_destination_and_drops_are_reported()
    {
        var output = new GatedWriter();
        using var log = Create(output, new LogLimits { MaxQueuedLines = 5 });
        StickOn(log, output, "first");

        // Run where a hang would show as a timeout rather than a hung test run.
        var callers = Task.Run(() =>
        {
            for (int i = 1; i <= 100; i++)
                log.Info($"line {i}");
        });
        await callers.WaitAsync(Patience); // a TimeoutException here: a caller blocked on the stuck destination
        output.Release();
        Written(log);

        Assert.Equal(
            ["1764108000: first", .. Enumerable.Range(1, 5).Select(i => $"1764108000: line {i}"), $"1764108000: Log: 95 {Dropped}"],
            output.Lines());
    }

    [Fact]
    public void The_queue_is_also_bounded_by_characters()
    {
        var output = new GatedWriter();
        using var log = Create(output, new LogLimits { MaxQueuedChars = 100 });
        StickOn(log, output, "first");

        // Each line is 12 + 38 + newline characters with its timestamp: one fits in 100, two do not fit in 100.
        for (int i = 0; i < 4; i++)
            log.Info(new string((char)('a' + i), 38));
        output.Release();
        Written(log);

        Assert.Equal(["1764108000: first", "1764108000: " + new string('a', 38), $"1764108000: Log: 3 {Dropped}"],
            output.Lines());
    }

    [Fact]
    public void Lines_keep_the_time_and_order_of_the_call_not_of_the_write()
    {
        var output = new GatedWriter();
        using var log = Create(output);
        StickOn(log, output, "first");

        _clock.Advance(TimeSpan.FromSeconds(1));
        log.Warning("second");
        _clock.Advance(TimeSpan.FromSeconds(1));
        log.Error("third");
        _clock.Advance(TimeSpan.FromSeconds(5));
        output.Release();
        Written(log);

        Assert.Equal(["1764108000: first", "1764108001: second", "1764108002: third"], output.Lines());
    }

    [Fact]
    public void Each_callers_lines_stay_in_order_among_many_callers()
    {
        var output = new StringWriter();
        using var log = Create(output);

        Parallel.For(0, 8, t =>
        {
            for (int i = 0; i < 500; i++)
                log.Info($"caller {t} line {i}");
        });
        Written(log);

        var lines = output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(8 * 500, lines.Length);
        foreach (var perCaller in lines.Select(l => l.Split(' ')).GroupBy(w => w[2]))
            Assert.Equal(Enumerable.Range(0, 500), perCaller.Select(w => int.Parse(w[4])));
    }

    [Fact]
    public async Task Dispose_writes_what_is_queued_before_it_returns()
    {
        var output = new GatedWriter();
        var log = Create(output);
        StickOn(log, output, "first");
        log.Notice("Store: 12 change(s) in 3 write(s).");
        log.Notice("Holdfast version 1.0 terminating");

        var disposed = Task.Run(log.Dispose);
        output.Release();
        await disposed.WaitAsync(Patience);
        log.Notice("after dispose");

        Assert.Equal(["1764108000: first", "1764108000: Store: 12 change(s) in 3 write(s).", "1764108000: Holdfast version 1.0 terminating"],
            output.Lines());
    }

    [Fact]
    public async Task Dispose_gives_up_on_a_destination_stuck_for_good()
    {
        var output = new GatedWriter();
        var log = Create(output, new LogLimits { DrainTimeout = TimeSpan.FromMilliseconds(50) });
        StickOn(log, output, "first");
        log.Notice("never written");

        await Task.Run(log.Dispose).WaitAsync(Patience);
        log.Notice("after dispose");

        Assert.False(log.WaitUntilWritten(TimeSpan.Zero));
        output.Release();
    }

    [Fact]
    public void A_failing_destination_neither_throws_nor_starves_the_others()
    {
        var broken = new BrokenPipeWriter();
        var output = new StringWriter();
        using var log = new MosquittoLog(LogType.All, [LogDestination.ToWriter(broken), LogDestination.ToWriter(output)], time: _clock);

        log.Error("one");
        Written(log);
        log.Error("two");
        Written(log);

        Assert.Equal(2, broken.Attempts);
        Assert.Equal($"1764108000: one{Environment.NewLine}1764108000: two{Environment.NewLine}", output.ToString());
    }

    [Fact]
    public void A_file_that_cannot_be_reopened_keeps_logging_and_says_why()
    {
        using var dir = new TempDirectory();
        var logDir = Directory.CreateDirectory(Path.Combine(dir.Path, "logs")).FullName;
        var path = Path.Combine(logDir, "holdfast.log");
        var output = new StringWriter();
        using var log = new MosquittoLog(LogType.All, [LogDestination.File(path), LogDestination.ToWriter(output)], time: _clock);
        log.Notice("before");
        Written(log);

        Directory.Delete(logDir, recursive: true);
        log.ReopenFiles();
        log.Notice("after");
        Written(log);

        var lines = output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Equal("1764108000: before", lines[0]);
        Assert.StartsWith($"1764108000: Error: cannot reopen log file: cannot open log file '{path}'", lines[1]);
        Assert.Equal("1764108000: after", lines[2]);
    }
}
