using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Holdfast.Server.Configuration;

namespace Holdfast.Server.Tls;

/// <summary>
/// A listener's certificate-based TLS (Mosquitto's certfile, keyfile, cafile, capath, require_certificate,
/// use_identity_as_username, tls_version), read and checked once at startup: a file that cannot be used stops startup
/// naming the config line, the file and why, rather than a listener that fails every handshake later.
/// </summary>
internal sealed class ListenerTls
{
    private const string CommonNameOid = "2.5.4.3";

    private readonly SslStreamCertificateContext _serverCertificate;
    private readonly X509ChainPolicy _clientChainPolicy;

    private ListenerTls(SslStreamCertificateContext serverCertificate, X509ChainPolicy clientChainPolicy, SslProtocols protocols,
        bool requireCertificate, bool useIdentityAsUsername)
    {
        _serverCertificate = serverCertificate;
        _clientChainPolicy = clientChainPolicy;
        Protocols = protocols;
        RequireCertificate = requireCertificate;
        UseIdentityAsUsername = useIdentityAsUsername;
    }

    public SslProtocols Protocols { get; }
    public bool RequireCertificate { get; }
    /// <summary>The client certificate's CN is the client's user name; password_file is not used on this listener.</summary>
    public bool UseIdentityAsUsername { get; }

    /// <summary>The listener's TLS settings, or null when it has none (plain TCP or ws). Throws <see cref="ConfigException"/>.</summary>
    public static ListenerTls? Load(ListenerConfig listener)
    {
        if (listener.CertFile is null || listener.KeyFile is null)
        {
            // Mosquitto needs both to enable TLS; the TLS-only keys without them would leave a cleartext listener the
            // operator believes is protected.
            if (listener.CertFile is not null) throw Fail(listener, "certfile", "keyfile is missing: certfile and keyfile together enable TLS");
            if (listener.KeyFile is not null) throw Fail(listener, "keyfile", "certfile is missing: certfile and keyfile together enable TLS");
            // An explicit "false" asks for nothing TLS would give, so it is no mistake to point out.
            foreach (var (key, isSet) in new[] { ("cafile", listener.CaFile is not null), ("capath", listener.CaPath is not null),
                         ("require_certificate", listener.RequireCertificate), ("use_identity_as_username", listener.UseIdentityAsUsername),
                         ("tls_version", listener.TlsVersion is not null) })
                if (isSet)
                    throw Fail(listener, key, "needs certfile and keyfile on this listener (without them it serves no TLS)");
            return null;
        }

        var serverChain = ReadCertificates(listener, "certfile", listener.CertFile);
        X509Certificate2 server;
        try
        {
            server = X509Certificate2.CreateFromPemFile(listener.CertFile, listener.KeyFile);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException or IOException or UnauthorizedAccessException)
        {
            throw Fail(listener, "keyfile", $"cannot use {listener.KeyFile} as the key of {listener.CertFile}: {e.Message}");
        }
        // The rest of certfile (intermediate CAs) goes out with the server certificate, so clients need only the root.
        var intermediates = new X509Certificate2Collection();
        foreach (var certificate in serverChain.Skip(1)) intermediates.Add(certificate);
        var serverCertificate = SslStreamCertificateContext.Create(server, intermediates, offline: true);

        var trusted = new X509Certificate2Collection();
        if (listener.CaFile is { } caFile) trusted.AddRange(ReadCertificates(listener, "cafile", caFile));
        if (listener.CaPath is { } caPath) trusted.AddRange(ReadCaPath(listener, caPath));
        if (listener.RequireCertificate && trusted.Count == 0)
            throw Fail(listener, "require_certificate", "needs cafile or capath: the CAs client certificates are checked against");
        if (listener.UseIdentityAsUsername && !listener.RequireCertificate)
            throw Fail(listener, "use_identity_as_username", "needs require_certificate true (the user name comes from the client certificate)");

        // Client certificates chain to cafile/capath only, never to the system's CAs.
        var chainPolicy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            // Never fetch a "missing" issuer from the URL a client's certificate names (AIA): the broker would make requests
            // an unauthenticated peer chooses, mid-handshake, blocking a thread for as long as that server takes, and would
            // accept leaves from intermediates that are not in cafile. OpenSSL (Mosquitto) never fetches either.
            DisableCertificateDownloads = true,
        };
        chainPolicy.CustomTrustStore.AddRange(trusted);
        return new ListenerTls(serverCertificate, chainPolicy, MinimumVersion(listener.TlsVersion), listener.RequireCertificate, listener.UseIdentityAsUsername);
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
            if (errors == SslPolicyErrors.None) return true;
            string why = chain?.ChainStatus.Length > 0
                ? string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()))
                : errors.ToString();
            handshake.Failure = $"client certificate '{certificate.Subject}' refused: {why}";
            return false;
        },
    };

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
