using Holdfast.Client;
using Holdfast.Protocol;

namespace Holdfast.Tools.Bench;

/// <summary>
/// The first thing that broke a run's clients (a connection that ended before the run did): the run stops waiting as soon
/// as it is set and fails with it, rather than measuring what is left and reporting a broken run as a result.
/// </summary>
internal sealed class RunFailure
{
    private readonly TaskCompletionSource _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Faults with the first failure reported; never completes otherwise.</summary>
    public Task Failed => _failed.Task;

    public bool HasFailed => _failed.Task.IsCompleted;

    /// <summary>Only the first report counts (the others are its consequences: the run aborts every connection).</summary>
    public void Report(string message) => _failed.TrySetException(new IOException(message));

    public void ThrowIfFailed()
    {
        if (_failed.Task.IsFaulted) _failed.Task.GetAwaiter().GetResult();
    }

    /// <summary>What to say when <paramref name="client"/>'s connection ended before the run did.</summary>
    public static string ConnectionEnded(string client, ReasonCode? disconnect, Exception? writeError) =>
        $"{client}'s connection ended during the run: " + (disconnect is { } code
            ? $"the broker sent DISCONNECT {MqttClientConnection.Describe(code)}"
            : writeError is not null ? $"writing to it failed ({writeError.Message})" : "the broker closed it without a DISCONNECT");

    /// <summary>Waits for <paramref name="task"/>, or throws as soon as a client has failed.</summary>
    public async Task WhileRunning(Task task)
    {
        await Task.WhenAny(task, Failed);
        ThrowIfFailed();
        await task;
    }
}
