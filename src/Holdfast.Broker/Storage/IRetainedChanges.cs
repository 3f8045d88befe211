namespace Holdfast.Broker.Storage;

/// <summary>The retained messages, one per topic, each naming a message in the message log.</summary>
public interface IRetainedChanges
{
    /// <summary><paramref name="message"/> is now its topic's retained message (replacing any before it).</summary>
    void SetRetained(Message message);

    /// <summary>The topic no longer has a retained message.</summary>
    void ClearRetained(string topic);
}
