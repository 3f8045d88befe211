using System.Threading.Channels;
using Holdfast.Broker;
using Holdfast.Protocol;

namespace Holdfast.Server.Security.DynamicSecurity;

/// <summary>
/// Mosquitto's dynamic security plugin, run natively: who may connect (user, password, client id), what each may
/// publish, receive, subscribe and unsubscribe, and the $CONTROL/dynamic-security/v1 API that changes it, saving every
/// change to the JSON file. Checks run on the broker's threads under one lock; commands run one message at a time on a
/// worker of their own, and kick the clients they concern and answer once the lock is released.
/// </summary>
internal sealed class DynamicSecurity : IDisposable
{
    private readonly Lock _lock = new();
    private readonly DynsecConfig _config;
    private readonly IBrokerLog _log;
    private readonly Channel<(string ClientId, string? UserName, ReadOnlyMemory<byte> Payload)> _requests =
        Channel.CreateUnbounded<(string, string?, ReadOnlyMemory<byte>)>(new UnboundedChannelOptions { SingleReader = true });
    private MqttBroker? _broker;
    private Task _worker = Task.CompletedTask;

    private DynamicSecurity(string path, DynsecConfig config, IBrokerLog log)
    {
        Path = path;
        _config = config;
        _log = log;
    }

    /// <summary>The file, as plugin_opt_config_file names it.</summary>
    public string Path { get; }

    /// <summary>Starts the commands' worker, with the broker they kick clients of and answer through: once the broker
    /// exists, before any client connects. Until then nothing runs, so a startup that fails later has nothing to stop.</summary>
    public void Attach(MqttBroker broker)
    {
        _broker = broker;
        _worker = Task.Run(RunAsync);
    }

    /// <summary>Reads the file; throws as <see cref="ConfigFile.Load"/> does.</summary>
    public static DynamicSecurity Load(string path, IBrokerLog log) => new(path, ConfigFile.Load(path), log);

    /// <summary>As Mosquitto's plugin: a user it does not know, or one without a password, is not decided here; a disabled
    /// user, a client id other than the user's, or a wrong password is refused.</summary>
    public bool? CheckCredentials(string clientId, string userName, ReadOnlyMemory<byte>? password)
    {
        if (password is not { } given) return null;
        PasswordHash? hash;
        lock (_lock)
        {
            if (!_config.Clients.TryGetValue(userName, out var client)) return null;
            if (client.Disabled) return false;
            if (client.ClientId is { } required && required != clientId) return false;
            hash = client.Password;
        }
        // Hashed off the lock (a file may ask for many iterations): a PasswordHash never changes, a new password is a new one.
        return hash?.Verify(given.Span);
    }

    /// <inheritdoc cref="AclEvaluation.Check"/>
    public bool? CheckAccess(string clientId, string? userName, string topic, TopicAccess access)
    {
        lock (_lock) return AclEvaluation.Check(_config, userName, topic, access);
    }

    /// <summary>A message on a $CONTROL topic, already allowed by the access check: queued for the worker if it is this
    /// API's; other $CONTROL topics have no handler here and are dropped, as in Mosquitto.</summary>
    public void HandleControl(ConnectedClient client, string topic, ReadOnlyMemory<byte> payload)
    {
        if (topic == ControlApi.Topic) _requests.Writer.TryWrite((client.ClientId, client.UserName, payload));
    }

    private async Task RunAsync()
    {
        await foreach (var (clientId, userName, payload) in _requests.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            try
            {
                Run(clientId, userName, payload);
            }
            catch (Exception e)
            {
                _log.Error($"Error: dynamic security command from {clientId} failed: {e}");
            }
        }
    }

    private void Run(string clientId, string? userName, ReadOnlyMemory<byte> payload)
    {
        CommandContext done;
        byte[]? file = null;
        lock (_lock)
        {
            done = ControlApi.Run(_config, payload.Span, clientId, userName, _log);
            if (done.Changed) file = ConfigFile.Serialize(_config);
        }
        // Written off the lock (only this worker writes, so saves stay in order): checks do not wait for the disk.
        if (file is not null) Save(file);
        if (_broker is not { } broker) return;
        if (done.KickedUsers.Count > 0 || done.KickAnonymous)
            broker.Kick(c => c.UserName is { } user ? done.KickedUsers.Contains(user) : done.KickAnonymous, "dynamic security changed");
        // An ordinary message (not retained): each answer goes to whoever subscribes now and may receive it.
        broker.PublishInternal(new Message(ControlApi.ResponseTopic, ControlApi.Response(done), QualityOfService.AtMostOnce, retain: false,
            null, null, broker.Clock.Now));
    }

    private void Save(byte[] file)
    {
        try
        {
            ConfigFile.Write(file, Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Error($"Error saving Dynamic security plugin config {Path}: {e.Message}");
        }
    }

    public void Dispose()
    {
        _requests.Writer.TryComplete();
        _worker.Wait(TimeSpan.FromSeconds(5));
    }
}
