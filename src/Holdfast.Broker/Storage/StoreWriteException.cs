namespace Holdfast.Broker.Storage;

/// <summary>A write to the durable store failed: what it held is not acknowledged.</summary>
public sealed class StoreWriteException(string message, Exception? inner = null) : Exception(message, inner);
