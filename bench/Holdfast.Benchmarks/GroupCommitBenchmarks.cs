using BenchmarkDotNet.Attributes;
using Holdfast.Broker;
using Holdfast.Storage.RocksDb;

namespace Holdfast.Benchmarks;

/// <summary>
/// The store's group commit on a real RocksDB data directory (in the temp directory): N puts appended as one change set
/// (so they form exactly one batch), then a wait until they are durable. Reported per change. <c>sync</c> fsyncs each batch; <c>os</c> only writes it.
/// </summary>
[MemoryDiagnoser, ShortRunJob]
public class GroupCommitBenchmarks
{
    private const int MaxBatch = 100;
    // Keys reused every operation (overwrites), so the database does not grow with the run; about the size of a delivery
    // record and its 64-byte body.
    private readonly byte[][] _keys = Enumerable.Range(0, MaxBatch).Select(i => System.Text.Encoding.ASCII.GetBytes($"bench/key-{i:D3}")).ToArray();
    private readonly byte[] _value = new byte[100];
    private string _directory = "";
    private readonly List<StoreOp> _ops = [];
    private RocksDbFile _file = null!;
    private GroupCommit _commit = null!;

    [Params(Durability.Sync)]
    public Durability Durability { get; set; }

    public long WriteBufferSize { get; set; } = long.Parse(Environment.GetEnvironmentVariable("HF_WBS") ?? "8388608");

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), $"holdfast-bench-{Guid.NewGuid():N}");
        _file = RocksDbFile.Open(_directory, new StoreOptions { WriteBufferSize = WriteBufferSize });
        _commit = new GroupCommit(_file, Durability, NullBrokerLog.Instance);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _commit.Dispose();
        _file.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(OperationsPerInvoke = 1)]
    public void Batch1() => PutThenWait(1);

    [Benchmark(OperationsPerInvoke = MaxBatch)]
    public void Batch100() => PutThenWait(MaxBatch);

    private void PutThenWait(int changes)
    {
        _ops.Clear();
        for (int i = 0; i < changes; i++) _ops.Add(new StoreOp(_keys[i], _value));
        long sequence = _commit.Append(_ops);
        _commit.WhenDurable(sequence).AsTask().GetAwaiter().GetResult();
    }
}
