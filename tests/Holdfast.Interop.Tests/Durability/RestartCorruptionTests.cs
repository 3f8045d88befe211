using System.Text;
using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Interop.Tests.MqttNet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Holdfast.Interop.Tests.Durability;

/// <summary>
/// A data directory that cannot be trusted stops `holdfast serve` with an error naming it, rather than letting the broker
/// start empty or with part of what it had acknowledged (issue 3, "Store faults"): junk in the files RocksDB keeps,
/// damaged records in the write-ahead log or a table file, a directory that holds something other than a store.
/// </summary>
public sealed class RestartCorruptionTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Runs `holdfast serve` on <paramref name="location"/> until it exits or reports itself running, and
    /// asserts it refused to start: a non-zero exit, an error naming the data directory, no listener opened.</summary>
    private static async Task<string> AssertServeRefusesAsync(RestartLocation location)
    {
        string config = Path.Combine(Path.GetTempPath(), $"holdfast-corrupt-{Guid.NewGuid():N}.conf");
        await File.WriteAllTextAsync(config, $"listener {TestBroker.PlaceholderPort} 127.0.0.1\nallow_anonymous true\nlog_dest stdout\npersistence_location {location.Path}\n");
        try
        {
            await using var serve = ProcessRunner.Start("dotnet", [BrokerProcess.HoldfastDll, "serve", "-c", config, "-p", "0"]);
            // Polls two conditions at once (exit or "running"): whichever comes first decides.
            await Waits.UntilAsync(() => serve.HasExited || serve.Stdout.Contains(" running"), "holdfast serve to exit or start", StartTimeout);
            Assert.True(serve.HasExited, $"holdfast serve started over a damaged data directory:\n{serve.Stdout}\nstderr:\n{serve.Stderr}");
            await serve.WaitForExitAsync(StartTimeout);
            string stdout = serve.Stdout, stderr = serve.Stderr;
            Assert.True(serve.ExitCode != 0, $"exit {serve.ExitCode}; stdout:\n{stdout}\nstderr:\n{stderr}");
            Assert.Contains(location.DataDirectory, stderr);
            Assert.DoesNotContain("listen socket", stdout + stderr);
            Assert.DoesNotContain(" running", stdout + stderr);
            Assert.DoesNotContain("Unhandled exception", stderr);
            return stderr;
        }
        finally
        {
            File.Delete(config);
        }
    }

    /// <summary>A store holding <paramref name="count"/> acknowledged retained messages, each written by its own batch;
    /// the broker is SIGKILLed afterwards. With <paramref name="flushed"/> a second broker recovers it once (RocksDB moves
    /// the write-ahead log into a table file when it opens) and is killed too.</summary>
    private static async Task FillAsync(RestartLocation location, int count, bool flushed)
    {
        await using (var broker = await location.StartAsync())
        {
            await using (var publisher = await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "fill-pub"))
                for (int i = 0; i < count; i++)
                {
                    // Random parts: records that do not compress to nothing.
                    var result = await publisher.PublishAsync($"restart/corrupt/{i:D4}/{Guid.NewGuid():N}", Guid.NewGuid().ToString("N"),
                        MqttQualityOfServiceLevel.AtLeastOnce, retain: true);
                    Assert.True((int)result.ReasonCode < 0x80, $"publish refused: {result.ReasonCode}");
                }
            await broker.KillAsync();
        }
        if (flushed)
        {
            await using var broker = await location.StartAsync();
            Assert.Equal(count, broker.Recovery().Retained);
            await broker.KillAsync();
        }
    }

    [Fact]
    public async Task Junk_in_the_CURRENT_file_stops_startup()
    {
        using var location = new RestartLocation();
        await FillAsync(location, 3, flushed: false);
        await File.WriteAllTextAsync(Path.Combine(location.DataDirectory, "CURRENT"), "this is not a manifest name\n");
        await AssertServeRefusesAsync(location);
    }

    [Fact]
    public async Task Every_file_replaced_with_junk_stops_startup()
    {
        using var location = new RestartLocation();
        await FillAsync(location, 3, flushed: true);
        foreach (string file in Directory.EnumerateFiles(location.DataDirectory))
            await File.WriteAllBytesAsync(file, Encoding.ASCII.GetBytes("junk junk junk junk\n"));
        await AssertServeRefusesAsync(location);
    }

    [Fact]
    public async Task Damaged_record_in_the_middle_of_the_write_ahead_log_stops_startup()
    {
        // One flipped byte halfway through the log: the records after it were acknowledged (synced) and are intact on
        // disk. Starting with only those before it would lose acknowledged messages without a word.
        using var location = new RestartLocation();
        await FillAsync(location, 20, flushed: false);
        string log = Directory.EnumerateFiles(location.DataDirectory, "*.log").OrderByDescending(f => new FileInfo(f).Length).First();
        var bytes = await File.ReadAllBytesAsync(log);
        Assert.True(bytes.Length > 1000, $"{log} holds {bytes.Length} bytes; the test expects the 20 messages in it");
        bytes[bytes.Length / 2] ^= 0xFF;
        await File.WriteAllBytesAsync(log, bytes);
        await AssertServeRefusesAsync(location);
    }

    [Fact]
    public async Task Damaged_block_in_a_table_file_stops_startup()
    {
        // Retained message records (keys "t" + topic) sort last in the store, after the message bodies. A flipped byte in
        // a block of them leaves the store openable; reading it must fail rather than end early, with only the messages
        // before that block.
        using var location = new RestartLocation();
        await FillAsync(location, 300, flushed: true);
        string table = Assert.Single(Directory.EnumerateFiles(location.DataDirectory, "*.sst"));
        var bytes = await File.ReadAllBytesAsync(table);
        // A block begins with a whole key, and compression (per block) keeps the first "trestart/" of a block as
        // written: between the second and the third of them lies a block of retained records only.
        var keys = IndexesOf(bytes, "trestart/"u8.ToArray());
        Assert.True(keys.Count >= 3, $"{keys.Count} retained record key(s) found as written in {table}; the test expects several blocks of them");
        bytes[(keys[1] + keys[2]) / 2] ^= 0xFF;
        await File.WriteAllBytesAsync(table, bytes);
        await AssertServeRefusesAsync(location);
    }

    [Fact]
    public async Task Non_empty_data_directory_without_a_store_stops_startup_and_is_left_alone()
    {
        using var location = new RestartLocation();
        Directory.CreateDirectory(location.DataDirectory);
        string notes = Path.Combine(location.DataDirectory, "notes.txt");
        await File.WriteAllTextAsync(notes, "someone else's file\n");
        await AssertServeRefusesAsync(location);
        Assert.Equal(new[] { notes }, Directory.EnumerateFileSystemEntries(location.DataDirectory));
        Assert.Equal("someone else's file\n", await File.ReadAllTextAsync(notes));
    }

    [Fact]
    public async Task Data_directory_path_taken_by_a_file_stops_startup()
    {
        using var location = new RestartLocation();
        await File.WriteAllTextAsync(location.DataDirectory, "not a directory\n");
        await AssertServeRefusesAsync(location);
    }

    private static List<int> IndexesOf(byte[] haystack, byte[] needle)
    {
        var found = new List<int>();
        for (int from = 0; from < haystack.Length;)
        {
            int at = haystack.AsSpan(from).IndexOf(needle);
            if (at < 0) break;
            found.Add(from + at);
            from += at + 1;
        }
        return found;
    }
}
