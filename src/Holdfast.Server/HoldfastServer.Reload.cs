using Holdfast.Broker;
using Holdfast.Protocol;
using Holdfast.Server.Configuration;
using Holdfast.Server.Security;
using Holdfast.Server.Security.DynamicSecurity;

namespace Holdfast.Server;

// The password and ACL files behind the listeners' checks, and their reload (SIGHUP in `holdfast serve`).
public sealed partial class HoldfastServer
{
    /// <summary>Each listener's policy and its config, to find a connected client's password file after a reload.</summary>
    private readonly Dictionary<ListenerPolicy, ListenerConfig> _listenerOf = [];
    /// <summary>Two SIGHUPs close together reload one after the other, each comparing against what the last one left.</summary>
    private readonly Lock _reloading = new();

    /// <summary>What the broker applies to a listener's clients, its password and ACL checks included.</summary>
    private ListenerPolicy Policy(ListenerConfig listener)
    {
        var policy = new ListenerPolicy
        {
            Name = listener.UnixSocketPath ?? listener.Port.ToString(),
            AllowAnonymous = _config.EffectiveAllowAnonymous(listener),
            CheckCredentials = _dynamicSecurity.For(listener) is { } dynsec ? dynsec.CheckCredentials : null,
            CheckPassword = PasswordCheck(listener),
            CheckAccess = AccessCheck(listener),
            HandleControl = _dynamicSecurity.For(listener) is { } control ? control.HandleControl : null,
            AckTimeout = listener.AckTimeout,
            AckTimeoutDisconnect = listener.AckTimeoutDisconnect,
            UseIdentityAsUsername = listener.UseIdentityAsUsername,
            UseSubjectAsUsername = listener.UseSubjectAsUsername,
            MaximumQoS = (QualityOfService)listener.MaxQoS,
        };
        _listenerOf[policy] = listener;
        return policy;
    }

    /// <summary>The checks read <see cref="_security"/> at every call, so a reload takes effect at the next CONNECT,
    /// PUBLISH, SUBSCRIBE or delivery. Null (nothing to check) when the listener has no such file; the config is not
    /// re-read, so that never changes.</summary>
    private Func<string, ReadOnlyMemory<byte>, bool>? PasswordCheck(ListenerConfig listener) =>
        // use_identity_as_username, use_subject_as_username: the TLS handshake verified the certificate the user name
        // comes from, and password_file is not used on the listener (as in Mosquitto).
        listener.UsernameFromCertificate || _config.EffectivePasswordFile(listener) is null ? null
            : (user, password) => _security.PasswordFileFor(listener)!.Verify(user, password.Span);

    /// <summary>As Mosquitto chains its checks: dynamic security first; what it does not decide goes to the acl_file,
    /// and with no acl_file is refused.</summary>
    private AccessCheck? AccessCheck(ListenerConfig listener)
    {
        var dynsec = _dynamicSecurity.For(listener);
        if (_config.EffectiveAclFile(listener) is null)
            return dynsec is null ? null : (clientId, userName, topic, access) => dynsec.CheckAccess(clientId, userName, topic, access) ?? false;
        int index = _config.Listeners.IndexOf(listener);
        return (clientId, userName, topic, access) => dynsec?.CheckAccess(clientId, userName, topic, access)
            ?? _security.AclFileFor(index)!.Check(clientId, userName, topic, access);
    }

    /// <summary>
    /// What SIGHUP does, as in Mosquitto: reopens the log_dest files (log rotation) and reads the password and ACL files
    /// again (the config file itself is not re-read). A log file that cannot be reopened keeps its old handle. A file
    /// that fails to load keeps its previous version and the error is logged; the broker keeps running. Then every
    /// connected client whose password may no longer pass is disconnected.
    /// </summary>
    public void Reload()
    {
        lock (_reloading)
        {
            ReopenLogFiles();
            _log.Notice("Reloading password and ACL files.");
            var before = _security;
            var kept = new List<string>();
            var after = before.Reload(_log, kept);
            _security = after;
            int disconnected = Broker.DisconnectUnauthorized(client => StillAuthorized(client, before, after));
            // Said once the new rules are in force, so that anyone watching the log knows from when they apply; and only
            // what is true: a file that failed to load was not reloaded.
            string clients = $"{disconnected} client{(disconnected == 1 ? "" : "s")} disconnected";
            if (kept.Count == 0)
                _log.Notice($"Password and ACL files reloaded ({clients}).");
            else
                _log.Warning($"Password and ACL files reloaded except {string.Join(", ", kept)}, which kept the previous version ({clients}).");
        }
    }

    /// <summary>
    /// The password given at CONNECT is not kept (a secret held in memory for the connection's lifetime would only wait to
    /// leak). A client was checked against its user's line in the file then in force, and every reload since has
    /// disconnected it if that line changed, so it still passes exactly when its line is unchanged now. A changed line (new
    /// password, or the same password hashed again) or a removed user disconnects it; it can reconnect with its password.
    /// </summary>
    private bool StillAuthorized(ConnectedClient client, SecurityFiles before, SecurityFiles after)
    {
        if (client.UserName is not { } user || !_listenerOf.TryGetValue(client.Policy, out var listener)) return true;
        // The user name came from a verified certificate, not from the password file.
        if (listener.UsernameFromCertificate) return true;
        if (after.PasswordFileFor(listener) is not { } now) return true;
        var hash = before.PasswordFileFor(listener)?.HashOf(user);
        // Let in by dynamic security, not by the file: dynamic security disconnects its own clients when they change.
        if (hash is null && client.Policy.CheckCredentials is not null) return true;
        return hash is not null && hash == now.HashOf(user);
    }

    // Queued for the log's writer thread, after the lines already written; a file it cannot reopen keeps its old
    // handle and the log says why.
    private void ReopenLogFiles() => _ownedLog?.ReopenFiles();
}
