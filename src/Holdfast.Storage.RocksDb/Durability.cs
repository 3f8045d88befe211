namespace Holdfast.Storage.RocksDb;

/// <summary>What "acknowledged" promises (config key <c>durability</c>).</summary>
public enum Durability
{
    /// <summary>On disk before acknowledging: the batch is written and fsync'd (one fsync per group commit). Survives
    /// a process crash and power loss. The default.</summary>
    Sync,
    /// <summary>Handed to the operating system before acknowledging (written, not fsync'd). Survives a crash of the
    /// broker process, not of the machine.</summary>
    Os,
    /// <summary>Acknowledged at once; the store is written in the background moments later. A clean shutdown keeps
    /// everything; a crash loses what was acknowledged in the last few milliseconds.</summary>
    Memory,
}
