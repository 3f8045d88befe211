using System.Text;
using Holdfast.Broker.Storage;
using Holdfast.Protocol;
using Holdfast.Storage.RocksDb;
using Holdfast.Storage.Tests.Support;

namespace Holdfast.Storage.Tests;

/// <summary>A data directory that cannot be used stops startup with a <see cref="StoreOpenException"/> saying why,
/// rather than running empty over it.</summary>
public sealed class OpenErrorTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_directory_with_files_but_no_CURRENT_is_refused_and_left_alone()
    {
        File.WriteAllText(_dir.Combine("junk.txt"), "not a database");

        var e = Assert.Throws<StoreOpenException>(() => RocksDbFile.Open(_dir.Path));
        Assert.Contains(_dir.Path, e.Message);
        Assert.Contains("no CURRENT file", e.Message);
        Assert.Equal(["junk.txt"], Directory.GetFileSystemEntries(_dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void What_a_kill_during_the_first_start_leaves_is_created_over_but_a_store_that_lost_CURRENT_is_refused()
    {
        // A kill before RocksDB wrote CURRENT leaves its bootstrap files and no data: starting again must work.
        foreach (var name in new[] { "LOCK", "IDENTITY", "LOG", "MANIFEST-000001", "OPTIONS-000005", "000001.dbtmp" })
            File.WriteAllText(_dir.Combine(name), "partial");
        using (var store = new RocksDbStore(RocksDbFile.Open(_dir.Path), Durability.Sync))
        {
            Assert.Empty(store.Load().Sessions);
            store.SaveSession(new StoredSession("c", ProtocolVersion.V500, 60, []));
        }

        // A store with data whose CURRENT is gone is damage, not a first start: refused.
        File.Delete(_dir.Combine("CURRENT"));
        var e = Assert.Throws<StoreOpenException>(() => RocksDbFile.Open(_dir.Path));
        Assert.Contains("no CURRENT file", e.Message);
    }

    [Fact]
    public void A_rocksdb_database_that_is_not_holdfasts_is_refused_and_left_unchanged()
    {
        using (var plain = NativeDatabase.Open(_dir.Path, new StoreOptions()))
            plain.Write([new StoreOp(Encoding.UTF8.GetBytes("someone-else"), Encoding.UTF8.GetBytes("data"))], sync: true);

        var e = Assert.Throws<StoreOpenException>(() => RocksDbStore.Open(_dir.Path, Durability.Sync));
        Assert.Contains(_dir.Path, e.Message);
        Assert.Contains("not a Holdfast store", e.Message);

        // Refusing released the database and wrote nothing to it (no format marker).
        using var again = NativeDatabase.Open(_dir.Path, new StoreOptions());
        using var it = again.NewIterator();
        int keys = 0;
        for (it.Seek([]); it.Valid(); it.Next()) keys++;
        Assert.Equal(1, keys);
    }

    /// <param name="version">1: written before bodies were keyed by message id; 3: by a later Holdfast.</param>
    [Theory]
    [InlineData("1")]
    [InlineData("3")]
    public void A_store_of_another_format_version_is_refused_and_left_unchanged(string version)
    {
        byte[] formatKey = [0, .. "holdfast-format"u8];
        byte[] oldBody = [(byte)'m', 0, 0, 0, 0, 0, 0, 0, 1];
        using (var db = NativeDatabase.Open(_dir.Path, new StoreOptions()))
            db.Write([new StoreOp(formatKey, Encoding.ASCII.GetBytes(version)), new StoreOp(oldBody, [1, 2, 3])], sync: true);

        var e = Assert.Throws<StoreOpenException>(() => RocksDbFile.Open(_dir.Path));
        Assert.Contains($"format {version}", e.Message);
        Assert.Contains("reads format 2", e.Message);
        using (var db = NativeDatabase.Open(_dir.Path, new StoreOptions()))
        {
            Assert.Equal(version, Encoding.ASCII.GetString(db.Get(formatKey)!));
            Assert.Equal([1, 2, 3], db.Get(oldBody));
        }
    }

    [Fact]
    public void A_directory_already_open_is_refused_with_the_lock_named()
    {
        using var first = RocksDbStore.Open(_dir.Path, Durability.Sync);

        var e = Assert.Throws<StoreOpenException>(() => RocksDbStore.Open(_dir.Path, Durability.Sync));
        Assert.Contains(_dir.Path, e.Message);
        Assert.Contains("lock", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.IsType<RocksDbException>(e.InnerException);
    }

    [Fact]
    public void A_path_that_is_a_file_is_refused()
    {
        string path = _dir.Combine("a-file");
        File.WriteAllText(path, "x");

        var e = Assert.Throws<StoreOpenException>(() => RocksDbFile.Open(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void A_corrupt_record_stops_the_load_naming_the_record()
    {
        using (var file = RocksDbFile.Open(_dir.Path))
            file.Write([new StoreOp([(byte)'s', .. "c1"u8], [0xde, 0xad])], sync: true);

        using var store = RocksDbStore.Open(_dir.Path, Durability.Sync);
        var e = Assert.Throws<StoreOpenException>(() => store.Load());
        Assert.Contains("'sc1'", e.Message);
        Assert.Contains("corrupt", e.Message);
        Assert.IsType<FormatException>(e.InnerException);
    }

    [Fact]
    public void A_corrupt_message_body_stops_the_load_naming_the_record()
    {
        using (var file = RocksDbFile.Open(_dir.Path))
        {
            // Received-at, no publisher, then bytes that are not a PUBLISH packet.
            byte[] garbage = [.. new byte[8], 0, 0x30, 0x7f, 1, 2, 3];
            file.Write([new StoreOp(StoreKeys.ForBody(1), garbage)], sync: true);
        }

        using var store = RocksDbStore.Open(_dir.Path, Durability.Sync);
        var e = Assert.Throws<StoreOpenException>(() => store.Load());
        Assert.Contains("'m\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x01'", e.Message);
    }

    [Fact]
    public void A_record_referring_to_a_missing_body_stops_the_load()
    {
        using (var store = RocksDbStore.Open(_dir.Path, Durability.Sync))
        {
            store.SaveSession(new StoredSession("c1", ProtocolVersion.V500, 60, []));
            store.AddQueued("c1", new StoredDelivery(Messages.Create("t", "x"), QualityOfService.AtLeastOnce, false, null));
        }
        using (var file = RocksDbFile.Open(_dir.Path))
        {
            var body = Assert.Single(file.Scan((byte)'m'));
            file.Write([new StoreOp(body.Key, null)], sync: true);
        }

        using var reopened = RocksDbStore.Open(_dir.Path, Durability.Sync);
        var e = Assert.Throws<StoreOpenException>(() => reopened.Load());
        Assert.Contains("'qc1\\x00", e.Message);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void A_record_of_a_session_that_is_not_stored_stops_the_load()
    {
        using (var file = RocksDbFile.Open(_dir.Path))
            file.Write([new StoreOp(StoreKeys.ForPacketId(StoreKeys.InboundQoS2, "ghost", 5), [])], sync: true);

        using var store = RocksDbStore.Open(_dir.Path, Durability.Sync);
        var e = Assert.Throws<StoreOpenException>(() => store.Load());
        Assert.Contains("'rghost\\x00\\x00\\x05'", e.Message);
        Assert.Contains("not stored", e.Message);
    }
}
