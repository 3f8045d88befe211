using System.Text.RegularExpressions;
using Holdfast.Storage.RocksDb;
using Holdfast.Storage.Tests.Support;

namespace Holdfast.Storage.Tests;

/// <summary>The memtable and cache sizes reach RocksDB: it records the options it opened with in the data directory,
/// the column family's in the newest OPTIONS-* file and the block cache's capacity in its LOG.</summary>
public sealed partial class StoreOptionsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [GeneratedRegex(@"^\s*write_buffer_size=(\d+)\s*$", RegexOptions.Multiline)]
    private static partial Regex WriteBufferSize();

    [GeneratedRegex(@"^\s*max_write_buffer_number=(\d+)\s*$", RegexOptions.Multiline)]
    private static partial Regex MaxWriteBufferNumber();

    [GeneratedRegex(@"block_cache_options:\s*\n\s*capacity : (\d+)")]
    private static partial Regex CacheCapacity();

    [Fact]
    public void Configured_sizes_are_what_RocksDB_opens_with()
    {
        // Sizes no default has, so that a match can only come from these options.
        using (RocksDbFile.Open(_dir.Path, new StoreOptions { WriteBufferSize = 3L << 20, CacheSize = 5L << 20 })) { }

        Assert.Equal((3L << 20).ToString(), Recorded(WriteBufferSize(), Options()));
        Assert.Equal("2", Recorded(MaxWriteBufferNumber(), Options()));
        Assert.Equal((5L << 20).ToString(), Recorded(CacheCapacity(), Log()));
    }

    [Fact]
    public void Without_options_the_broker_defaults_apply_not_RocksDBs()
    {
        using (RocksDbFile.Open(_dir.Path)) { }

        Assert.Equal(StoreOptions.DefaultWriteBufferSize.ToString(), Recorded(WriteBufferSize(), Options()));
        Assert.Equal(StoreOptions.DefaultCacheSize.ToString(), Recorded(CacheCapacity(), Log()));
    }

    private string Options() => File.ReadAllText(Directory.GetFiles(_dir.Path, "OPTIONS-*").Max(StringComparer.Ordinal)!);

    private string Log() => File.ReadAllText(_dir.Combine("LOG"));

    private static string Recorded(Regex option, string text)
    {
        var match = option.Match(text);
        Assert.True(match.Success, $"{option} not found");
        return match.Groups[1].Value;
    }
}
