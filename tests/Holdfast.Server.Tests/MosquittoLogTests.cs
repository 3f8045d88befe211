using Holdfast.Broker;
using Holdfast.Server.Configuration;
using Holdfast.Server.Logging;

namespace Holdfast.Server.Tests;

public class MosquittoLogTests
{
    private static readonly FixedTimeProvider Clock = new(DateTimeOffset.FromUnixTimeSeconds(1764108000), TimeSpan.FromHours(1));

    private static (MosquittoLog Log, StringWriter Output) Create(LogType types = LogType.All, bool timestamp = true, string? format = null)
    {
        var output = new StringWriter();
        return (new MosquittoLog(types, [LogDestination.ToWriter(output)], timestamp, format, Clock), output);
    }

    private static string[] Lines(StringWriter output) =>
        output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);

    // Lines are written by the log's own thread; this waits for it (an event, not a sleep).
    private static void Written(MosquittoLog log) => Assert.True(log.WaitUntilWritten(TimeSpan.FromSeconds(30)));

    [Fact]
    public void Default_line_is_unix_seconds_colon_message()
    {
        var (log, output) = Create();

        log.Info("New connection from 127.0.0.1:51234 on port 1883.");
        Written(log);

        Assert.Equal("1764108000: New connection from 127.0.0.1:51234 on port 1883." + Environment.NewLine, output.ToString());
    }

    [Fact]
    public void Timestamp_can_be_turned_off()
    {
        var (log, output) = Create(timestamp: false);

        log.Notice("Opening ipv4 listen socket on port 1883.");
        Written(log);

        Assert.Equal(["Opening ipv4 listen socket on port 1883."], Lines(output));
    }

    [Fact]
    public void Timestamp_format_uses_local_time()
    {
        var (log, output) = Create(format: "%Y-%m-%dT%H:%M:%S%z");

        log.Warning("Client sensor-1 has exceeded timeout, disconnecting.");
        Written(log);

        // 1764108000 is 2025-11-25T22:00:00Z; the test clock's local zone is UTC+1.
        Assert.Equal(["2025-11-25T23:00:00+0100: Client sensor-1 has exceeded timeout, disconnecting."], Lines(output));
    }

    [Fact]
    public void Only_enabled_types_are_written()
    {
        var (log, output) = Create(types: LogType.Error | LogType.Subscribe);

        Assert.True(log.IsEnabled(LogType.Error));
        Assert.True(log.IsEnabled(LogType.Subscribe));
        Assert.False(log.IsEnabled(LogType.Debug));
        Assert.False(log.IsEnabled(LogType.Information));

        log.Error("an error");
        log.Info("some information");
        log.Write(LogType.Debug, "debug detail");
        log.Write(LogType.Subscribe, "sensor-1 1 plant/#");
        Written(log);

        Assert.Equal(["1764108000: an error", "1764108000: sensor-1 1 plant/#"], Lines(output));
    }

    [Fact]
    public void None_writes_nothing()
    {
        var (log, output) = Create(types: LogType.None);

        log.Error("an error");
        Written(log);

        Assert.Equal("", output.ToString());
        Assert.Equal(LogType.None, log.EnabledTypes);
    }

    [Fact]
    public void Control_characters_cannot_forge_extra_lines()
    {
        var (log, output) = Create();

        log.Info("New client connected as evil\n1764108000: Client admin connected.");
        Written(log);

        Assert.Equal(["1764108000: New client connected as evil\\x0A1764108000: Client admin connected."], Lines(output));
    }

    [Fact]
    public void Every_destination_gets_every_line()
    {
        var first = new StringWriter();
        var second = new StringWriter();
        using var log = new MosquittoLog(LogType.All, [LogDestination.ToWriter(first), LogDestination.ToWriter(second)], time: Clock);

        log.Info("hello");
        Written(log);

        Assert.Equal(first.ToString(), second.ToString());
        Assert.Equal(["1764108000: hello"], Lines(first));
    }

    [Fact]
    public void Concurrent_writers_never_split_a_line()
    {
        var (log, output) = Create();
        const int threads = 8, perThread = 500;

        Parallel.For(0, threads, t =>
        {
            for (int i = 0; i < perThread; i++)
                log.Info($"thread {t} message {i} " + new string('x', 200));
        });
        Written(log);

        var lines = Lines(output);
        Assert.Equal(threads * perThread, lines.Length);
        Assert.All(lines, line => Assert.Matches(@"^1764108000: thread \d+ message \d+ x{200}$", line));
    }

    [Fact]
    public void File_destination_appends_and_flushes_each_batch()
    {
        using var dir = new TempDirectory();
        var path = dir.Write("holdfast.log", "earlier line" + Environment.NewLine);

        using var log = new MosquittoLog(LogType.All, [LogDestination.File(path)], time: Clock);
        log.Info("first");
        log.Info("second");
        Written(log);

        // Read while the log is still open, as `tail -f` would: once written, the lines are on disk.
        Assert.Equal(["earlier line", "1764108000: first", "1764108000: second"], ReadShared(path));
    }

    [Fact]
    public void Dispose_closes_the_file_and_later_writes_are_ignored()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "holdfast.log");
        var log = new MosquittoLog(LogType.All, [LogDestination.File(path)], time: Clock);
        log.Info("before");

        log.Dispose();
        log.Info("after");
        log.Dispose();

        using (File.Open(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) { } // closed, so exclusive open works
        Assert.Equal(["1764108000: before"], File.ReadAllLines(path));
    }

    [Fact]
    public void ReopenFiles_starts_a_new_file_after_rotation()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "holdfast.log");
        using var log = new MosquittoLog(LogType.All, [LogDestination.File(path)], time: Clock);
        log.Info("old");

        File.Move(path, path + ".1");
        log.ReopenFiles();
        log.Info("new");
        Written(log);

        Assert.Equal(["1764108000: new"], ReadShared(path));
        Assert.Equal(["1764108000: old"], ReadShared(path + ".1"));
    }

    [Fact]
    public void Unopenable_file_fails_at_construction_naming_the_path()
    {
        var path = Path.Combine(Path.GetTempPath(), "holdfast-no-such-dir-" + Guid.NewGuid().ToString("N"), "holdfast.log");

        var error = Assert.Throws<IOException>(() => new MosquittoLog(LogType.All, [LogDestination.File(path)]));

        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void FromConfig_uses_the_log_settings()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "holdfast.log");
        var config = ConfigParser.Parse($"log_type warning\nlog_dest file {path}\nlog_timestamp_format %F", "holdfast.conf");

        using (var log = MosquittoLog.FromConfig(config, Clock))
        {
            log.Info("not written");
            log.Warning("written");
        }

        Assert.Equal(["2025-11-25: written"], File.ReadAllLines(path));
    }

    private static string[] ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
    }
}
