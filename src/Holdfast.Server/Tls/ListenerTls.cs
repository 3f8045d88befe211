using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Holdfast.Server.Configuration;

namespace Holdfast.Server.Tls;

/// <summary>
/// A listener's certificate-based TLS (Mosquitto's certfile, keyfile, cafile, capath, crlfile, require_certificate,
/// use_identity_as_username, use_subject_as_username, tls_version), read and checked once at startup: a file that cannot
/// be used stops startup naming the config line, the file and why, rather than a listener that fails every handshake later.
/// </summary>
internal sealed class ListenerTls
{
    private const string CommonNameOid = "2.5.4.3";

    private readonly SslStreamCertificateContext _serverCertificate;
    private readonly X509ChainPolicy _clientChainPolicy;
    private readonly ClientRevocation? _revocation;
    private readonly TimeProvider _time;

    private ListenerTls(SslStreamCertificateContext serverCertificate, X509ChainPolicy clientChainPolicy, ClientRevocation? revocation,
        SslProtocols protocols, bool requireCertificate, List<string> notes, List<string> warnings, TimeProvider time)
    {
        _serverCertificate = serverCertificate;
        _clientChainPolicy = clientChainPolicy;
        _revocation = revocation;
        Protocols = protocols;
        RequireCertificate = requireCertificate;
        Notes = notes;
        Warnings = warnings;
        _time = time;
    }

    public SslProtocols Protocols { get; }
    public bool RequireCertificate { get; }

    /// <summary>What startup should tell the operator: the certificate chain sent, the CRLs loaded.</summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>Settings Mosquitto accepts that do not do what they seem to, for the startup log.</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>The listener's TLS settings, or null when it has none (plain TCP or ws). Throws <see cref="ConfigException"/>.</summary>
    public static ListenerTls? Load(ListenerConfig listener, TimeProvider? time = null)
    {
        if (listener.CertFile is null || listener.KeyFile is null)
        {
            // Mosquitto needs both to enable TLS; the TLS-only keys without them would leave a cleartext listener the
            // operator believes is protected.
            if (listener.CertFile is not null) throw Fail(listener, "certfile", "keyfile is missing: certfile and keyfile together enable TLS");
            if (listener.KeyFile is not null) throw Fail(listener, "keyfile", "certfile is missing: certfile and keyfile together enable TLS");
            // An explicit "false" asks for nothing TLS would give, so it is no mistake to point out.
            foreach (var (key, isSet) in new[] { ("cafile", listener.CaFile is not null), ("capath", listener.CaPath is not null),
                         ("crlfile", listener.CrlFile is not null), ("require_certificate", listener.RequireCertificate),
                         ("use_identity_as_username", listener.UseIdentityAsUsername),
                         ("use_subject_as_username", listener.UseSubjectAsUsername), ("tls_version", listener.TlsVersion is not null) })
                if (isSet)
                    throw Fail(listener, key, "needs certfile and keyfile on this listener (without them it serves no TLS)");
            return null;
        }

        var certFile = ReadCertificates(listener, "certfile", listener.CertFile);
        X509Certificate2 server;
        try
        {
            server = X509Certificate2.CreateFromPemFile(listener.CertFile, listener.KeyFile);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            throw Fail(listener, "keyfile", $"cannot use {listener.KeyFile} as the key of {listener.CertFile}: {e.Message}");
        }

        var trusted = new X509Certificate2Collection();
        if (listener.CaFile is { } caFile) trusted.AddRange(ReadCertificates(listener, "cafile", caFile));
        if (listener.CaPath is { } caPath) trusted.AddRange(ReadCaPath(listener, caPath));
        if (listener.RequireCertificate && trusted.Count == 0)
            throw Fail(listener, "require_certificate", "needs cafile or capath: the CAs client certificates are checked against");
        if (listener.UseIdentityAsUsername && listener.UseSubjectAsUsername)
            throw Fail(listener, "use_subject_as_username", "use_identity_as_username is also set: choose the CN or the whole subject");

        var notes = new List<string>();
        var warnings = new List<string>();
        var serverCertificate = ServerChain(listener, server, certFile, trusted, notes);
        var revocation = listener.CrlFile is { } crlFile ? LoadCrls(listener, crlFile, trusted, notes) : null;
        // As Mosquitto: accepted, but no certificate is asked for, so no client can give the user name and all are refused.
        if (listener.UsernameFromCertificate && !listener.RequireCertificate)
            warnings.Add($"Listener {listener.Port}: {(listener.UseSubjectAsUsername ? "use_subject_as_username" : "use_identity_as_username")} "
                + "without require_certificate true: no client certificate is asked for, so every client is refused (bad user name or password).");

        // Client certificates chain to cafile/capath only, never to the system's CAs.
        var chainPolicy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            // crlfile is checked by ClientRevocation: .NET's chain takes no CRL file.
            RevocationMode = X509RevocationMode.NoCheck,
            // Never fetch a "missing" issuer from the URL a client's certificate names (AIA): the broker would make requests
            // an unauthenticated peer chooses, mid-handshake, blocking a thread for as long as that server takes, and would
            // accept leaves from intermediates that are not in cafile. OpenSSL (Mosquitto) never fetches either.
            DisableCertificateDownloads = true,
        };
        chainPolicy.CustomTrustStore.AddRange(trusted);
        return new ListenerTls(serverCertificate, chainPolicy, revocation, MinimumVersion(listener.TlsVersion), listener.RequireCertificate,
            notes, warnings, time ?? TimeProvider.System);
    }

    /// <summary>The server certificate with the chain clients need to verify it: the rest of certfile and, as OpenSSL
    /// completes it for Mosquitto, the intermediates of cafile/capath, so a client that trusts only the root verifies a
    /// certificate an intermediate signed. Built offline: nothing is fetched.</summary>
    private static SslStreamCertificateContext ServerChain(ListenerConfig listener, X509Certificate2 server, X509Certificate2Collection certFile,
        X509Certificate2Collection trusted, List<string> notes)
    {
        var candidates = new X509Certificate2Collection();
        foreach (var certificate in certFile.Skip(1)) candidates.Add(certificate);
        candidates.AddRange(trusted);
        var context = SslStreamCertificateContext.Create(server, candidates, offline: true);

        // Said at startup, so the operator sees what clients get (the root, if found, is not sent).
        bool InCertFile(X509Certificate2 c) => certFile.Skip(1).Any(f => f.RawData.AsSpan().SequenceEqual(c.RawData));
        var sent = context.IntermediateCertificates.Select(c => $"'{Describe(c)}'" + (InCertFile(c) ? "" : " (from cafile/capath)"));
        notes.Add($"Listener {listener.Port}: TLS certificate '{Describe(server)}' is sent"
            + (context.IntermediateCertificates.Count == 0 ? " alone." : $" with {string.Join(", ", sent)}."));
        return context;
    }

    private static ClientRevocation LoadCrls(ListenerConfig listener, string crlFile, X509Certificate2Collection trusted, List<string> notes)
    {
        // Without a client certificate there is nothing to check the CRL against: the operator would believe revoked
        // certificates are refused on a listener that asks for none.
        if (!listener.RequireCertificate)
            throw Fail(listener, "crlfile", "needs require_certificate true (the CRL is checked against client certificates)");
        ClientRevocation revocation;
        try
        {
            revocation = ClientRevocation.Load(crlFile, trusted);
        }
        catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException)
        {
            throw Fail(listener, "crlfile", e is FormatException ? e.Message : $"cannot read {crlFile}: {e.Message}");
        }
        notes.AddRange(revocation.Notes.Select(n => $"Listener {listener.Port}: crlfile {n}"));
        return revocation;
    }

    /// <summary>The options for one handshake; a refused client certificate is described in <paramref name="handshake"/>.</summary>
    public SslServerAuthenticationOptions OptionsFor(TlsHandshake handshake) => new()
    {
        ServerCertificateContext = _serverCertificate,
        EnabledSslProtocols = Protocols,
        // require_certificate false: no client certificate is asked for, as in Mosquitto.
        ClientCertificateRequired = RequireCertificate,
        CertificateChainPolicy = _clientChainPolicy.Clone(),
        RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
        {
            if (certificate is null)
            {
                if (!RequireCertificate) return true;
                handshake.Failure = "no client certificate";
                return false;
            }
            if (errors == SslPolicyErrors.None)
            {
                if (Revoked(chain) is not { } refused) return true;
                handshake.Failure = $"client certificate '{Describe(certificate)}' refused: {refused}";
                return false;
            }
            string why = chain?.ChainStatus.Length > 0
                ? string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()))
                : errors.ToString();
            handshake.Failure = $"client certificate '{Describe(certificate)}' refused: {why}";
            return false;
        },
    };

    /// <summary>Why crlfile refuses a client certificate whose chain verified; null when it does not (or there is no crlfile).</summary>
    private string? Revoked(X509Chain? chain)
    {
        if (_revocation is null) return null;
        if (chain is null || chain.ChainElements.Count == 0) return "unable to get certificate CRL";
        var leaf = chain.ChainElements[0].Certificate;
        // A trusted self-signed client certificate is its own issuer.
        var issuer = chain.ChainElements.Count > 1 ? chain.ChainElements[1].Certificate : leaf;
        return _revocation.Refusal(leaf, issuer, _time.GetUtcNow());
    }

    /// <summary>A certificate's subject for the log, written as OpenSSL (and so Mosquitto) writes it.</summary>
    public static string Describe(X509Certificate certificate) =>
        (certificate as X509Certificate2)?.SubjectName is { } name && Rfc2253Name.Format(name) is { } text ? text : certificate.Subject;

    /// <summary>The first CN of the client certificate's subject in the certificate's own (DER) order, as OpenSSL and so
    /// Mosquitto pick it for use_identity_as_username; null when it has none. Multi-valued components (O=x + CN=y) are
    /// skipped rather than taken apart.</summary>
    public static string? CommonName(X509Certificate2? certificate)
    {
        if (certificate is null) return null;
        foreach (var rdn in certificate.SubjectName.EnumerateRelativeDistinguishedNames(reversed: false))
            if (!rdn.HasMultipleElements && rdn.GetSingleElementType().Value == CommonNameOid) return rdn.GetSingleElementValue();
        return null;
    }

    /// <summary>tls_version is the minimum, as in Mosquitto 2; unset allows TLS 1.2 and 1.3.</summary>
    private static SslProtocols MinimumVersion(string? tlsVersion) => tlsVersion switch
    {
        "tlsv1.3" => SslProtocols.Tls13,
#pragma warning disable SYSLIB0039, CA5397 // TLS 1.1 is obsolete; offered only when the operator asks for it by name.
        "tlsv1.1" => SslProtocols.Tls11 | SslProtocols.Tls12 | SslProtocols.Tls13,
#pragma warning restore SYSLIB0039, CA5397
        _ => SslProtocols.Tls12 | SslProtocols.Tls13,
    };

    private static X509Certificate2Collection ReadCertificates(ListenerConfig listener, string key, string path)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(path);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw Fail(listener, key, $"cannot read {path}: {e.Message}");
        }
        if (certificates.Count == 0) throw Fail(listener, key, $"{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        return certificates;
    }

    /// <summary>capath: every *.pem file of the directory, as Mosquitto reads it (it also needs `openssl rehash`; Holdfast does not).</summary>
    private static X509Certificate2Collection ReadCaPath(ListenerConfig listener, string directory)
    {
        string[] files;
        try
        {
            files = Directory.GetFiles(directory, "*.pem");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Fail(listener, "capath", $"cannot read directory {directory}: {e.Message}");
        }
        var certificates = new X509Certificate2Collection();
        foreach (var file in files.Order(StringComparer.Ordinal)) certificates.AddRange(ReadCertificates(listener, "capath", file));
        if (certificates.Count == 0) throw Fail(listener, "capath", $"{directory} holds no *.pem CA certificate");
        return certificates;
    }

    private static ConfigException Fail(ListenerConfig listener, string key, string reason)
    {
        var (file, line) = listener.Locations.TryGetValue(key, out var at) ? at : (listener.File, listener.Line);
        return new ConfigException(file, line, $"{key}: {reason}");
    }
}
