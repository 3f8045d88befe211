using System.Diagnostics;
using Holdfast.Broker;
using Holdfast.Broker.Storage;

namespace Holdfast.Storage.RocksDb;

/// <summary>
/// The one writer of the store file. Change sets committed from every connection accumulate while a write is on disk;
/// the next write takes them all as one batch, so one fsync serves every message that arrived meanwhile (group
/// commit). A change set is appended whole, under this writer's own lock, and the writer takes batches under the same
/// lock: a batch never holds part of one. Each change set has a sequence number; <see cref="IsDurable"/> and
/// <see cref="WhenDurable"/> tell the connections when the acknowledgements stamped with it may go out.
///
/// A failed write is never reported durable: whoever waited on it is told (their connections close without the
/// acknowledgement), the batch is kept and retried with later changes appended, with a growing pause, until a write
/// succeeds again.
/// </summary>
internal sealed class GroupCommit : IDisposable
{
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(2);

    private readonly IStoreFile _file;
    private readonly Durability _durability;
    private readonly IBrokerLog _log;
    /// <summary>Guards what the writer hands out to waiters: the durable sequence and the batch signals.</summary>
    private readonly Lock _gate = new();
    /// <summary>Guards the pending changes and the sequence: appending a change set and taking a batch exclude each other.</summary>
    private readonly Lock _changes = new();
    private readonly ManualResetEventSlim _work = new(false);
    private readonly Thread _thread;

    private List<StoreOp> _pending = [];
    private long _recorded;
    private long _durable;
    /// <summary>Completes when the next batch to start (holding everything recorded so far) is durable.</summary>
    private TaskCompletionSource _next = NewSignal();
    /// <summary>The batch being written: its last sequence and its signal (null when no write is in progress).</summary>
    private long _writingUpTo;
    private TaskCompletionSource? _writing;
    private bool _stopping;

    public GroupCommit(IStoreFile file, Durability durability, IBrokerLog log)
    {
        _file = file;
        _durability = durability;
        _log = log;
        _thread = new Thread(Run) { IsBackground = true, Name = "holdfast-store-writer" };
        _thread.Start();
    }

    /// <summary>The last sequence number given out (0: none yet).</summary>
    public long Recorded { get { lock (_changes) return _recorded; } }

    /// <summary>Writes that failed since the last success (0 = healthy).</summary>
    public int FailedAttempts => Volatile.Read(ref _failedAttempts);
    private int _failedAttempts;

    /// <summary>Successful writes, the changes they held and the time spent in them (for the shutdown summary and metrics).</summary>
    public long Batches { get; private set; }
    public long Changes { get; private set; }
    public TimeSpan WriteTime { get; private set; }

    /// <summary>Called on the writer thread after each successful write with its number of changes and its duration
    /// (for metrics). Must be quick: the next batch waits for it.</summary>
    public Action<int, TimeSpan>? Committed { get; set; }

    /// <summary>Appends one change set's operations as a whole and returns its sequence (0 for none).</summary>
    public long Append(List<StoreOp> ops)
    {
        if (ops.Count == 0) return 0;
        long sequence;
        lock (_changes)
        {
            _pending.AddRange(ops);
            sequence = ++_recorded;
        }
        _work.Set();
        return sequence;
    }

    public bool IsDurable(long sequence)
    {
        if (_durability == Durability.Memory) return true;
        return sequence <= Volatile.Read(ref _durable);
    }

    public ValueTask WhenDurable(long sequence) =>
        IsDurable(sequence) ? ValueTask.CompletedTask : new ValueTask(WrittenThrough(sequence));

    /// <summary>Blocks until everything recorded so far has been written (or a write failed), whatever the durability
    /// level. For shutdown and tests.</summary>
    public void Flush(TimeSpan timeout)
    {
        try { WrittenThrough(Recorded).Wait(timeout); }
        catch (AggregateException) { }
    }

    /// <summary>Completes when the write holding <paramref name="sequence"/> has succeeded; faults if it failed.</summary>
    private Task WrittenThrough(long sequence)
    {
        lock (_gate)
        {
            if (sequence <= _durable) return Task.CompletedTask;
            if (_writing is not null && sequence <= _writingUpTo) return _writing.Task;
            return _next.Task;
        }
    }

    private void Run()
    {
        List<StoreOp>? failed = null;
        var retryDelay = FirstRetryDelay;
        while (true)
        {
            _work.Wait();
            List<StoreOp> batch;
            long upTo;
            TaskCompletionSource signal;
            lock (_changes)
            {
                if (_pending.Count == 0 && failed is null)
                {
                    _work.Reset();
                    if (Volatile.Read(ref _stopping)) return;
                    continue;
                }
                batch = _pending;
                _pending = [];
                upTo = _recorded;
                // Still under the lock: no change set can be appended between taking the batch and naming its signal.
                // Waiters that asked before this point wait on _next, which becomes this batch's signal, and everything they
                // wait for is in it; a change recorded after this point waits on the new _next.
                lock (_gate)
                {
                    signal = _writing = _next;
                    _writingUpTo = upTo;
                    _next = NewSignal();
                }
            }
            // A failed batch goes first: later changes may depend on it (a delete after a put).
            if (failed is not null)
            {
                failed.AddRange(batch);
                batch = failed;
            }

            long writeStarted = Stopwatch.GetTimestamp();
            try
            {
                _file.Write(batch, sync: _durability == Durability.Sync);
            }
            catch (Exception e)
            {
                failed = batch;
                Interlocked.Increment(ref _failedAttempts);
                lock (_gate) _writing = null;
                signal.TrySetException(new StoreWriteException($"store write failed: {e.Message}", e));
                if (FailedAttempts == 1 || FailedAttempts % 50 == 0)
                    _log.Error($"Store write failed ({FailedAttempts} attempt(s) so far): {e.Message}. QoS 1/2 publishes to persistent sessions are not acknowledged until a write succeeds; retrying.");
                if (Volatile.Read(ref _stopping))
                {
                    _log.Error($"Store write failed at shutdown; {batch.Count} change(s) not written.");
                    return;
                }
                Thread.Sleep(retryDelay);
                retryDelay = TimeSpan.FromTicks(Math.Min(retryDelay.Ticks * 2, MaxRetryDelay.Ticks));
                _work.Set();
                continue;
            }

            var elapsed = Stopwatch.GetElapsedTime(writeStarted);
            WriteTime += elapsed;
            Batches++;
            Changes += batch.Count;
            if (failed is not null)
            {
                _log.Notice($"Store writes succeed again after {FailedAttempts} failed attempt(s); {batch.Count} change(s) written.");
                failed = null;
                Volatile.Write(ref _failedAttempts, 0);
                retryDelay = FirstRetryDelay;
            }
            lock (_gate)
            {
                Volatile.Write(ref _durable, upTo);
                _writing = null;
            }
            signal.TrySetResult();
            Committed?.Invoke(batch.Count, elapsed);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Writes what is pending and stops the writer.</summary>
    public void Dispose()
    {
        Volatile.Write(ref _stopping, true);
        _work.Set();
        if (!_thread.Join(TimeSpan.FromSeconds(30)))
            _log.Error("Store writer did not finish within 30 s at shutdown.");
        else if (Batches > 0)
            _log.Notice($"Store: {Changes:N0} change(s) in {Batches:N0} write(s) ({(double)Changes / Batches:0.#} per write, {WriteTime.TotalMilliseconds / Batches:0.###} ms per write).");
        _work.Dispose();
    }
}
