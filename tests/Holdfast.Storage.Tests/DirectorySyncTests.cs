using Holdfast.Storage.RocksDb;

namespace Holdfast.Storage.Tests;

/// <summary>The directories on the way to the data directory are made at open and their entries fsync'd. That they then
/// survive a power cut is shown by the interop suite's PowerLossTests, on plfs; here, that open makes them and that a
/// directory fsync that fails says where and why.</summary>
public sealed class DirectorySyncTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Open_makes_every_missing_directory_on_the_way_to_the_data_directory()
    {
        string path = Path.Combine(_dir.Path, "persistence", "location", "holdfast.db");
        using (var file = RocksDbFile.Open(path))
            file.Write([new StoreOp("k"u8.ToArray(), "v"u8.ToArray())], sync: true);

        using var reopened = RocksDbFile.Open(path);
        Assert.Equal("v"u8.ToArray(), Assert.Single(reopened.Scan((byte)'k')).Value);
    }

    [Fact]
    public void A_directory_that_cannot_be_synced_is_reported_with_its_path_and_the_reason()
    {
        string missing = _dir.Combine("missing");

        var e = Assert.Throws<IOException>(() => DirectorySync.Fsync(missing));
        Assert.Equal($"open of directory {missing} failed: No such file or directory (errno 2)", e.Message);
    }
}
