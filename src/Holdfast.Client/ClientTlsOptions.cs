using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Holdfast.Client;

/// <summary>TLS as mosquitto_pub's --cafile, --cert, --key, --insecure and --tls-version set it up.</summary>
public sealed class ClientTlsOptions
{
    /// <summary>PEM file of the certificate authorities to trust instead of the system's. Null: the system store.</summary>
    public string? CaFile { get; set; }
    /// <summary>PEM client certificate and its key, for brokers that require one.</summary>
    public string? CertFile { get; set; }
    public string? KeyFile { get; set; }
    /// <summary>Skip the check that the server's certificate names the host (the chain is still verified).</summary>
    public bool Insecure { get; set; }
    /// <summary>The name to expect in the server's certificate (default: the host connected to).</summary>
    public string? ServerName { get; set; }
    /// <summary>None: let the platform choose.</summary>
    public SslProtocols Protocols { get; set; } = SslProtocols.None;

    /// <summary>"tlsv1.2" / "tlsv1.3", the names mosquitto_pub takes.</summary>
    public static SslProtocols ParseVersion(string name) => name.ToLowerInvariant() switch
    {
        "tlsv1.2" => SslProtocols.Tls12,
        "tlsv1.3" => SslProtocols.Tls13,
        _ => throw new ArgumentException($"unknown TLS version '{name}' (use tlsv1.2 or tlsv1.3)"),
    };

    internal SslClientAuthenticationOptions ToAuthenticationOptions(string host)
    {
        X509Certificate2Collection? trusted = null;
        if (CaFile is not null)
        {
            trusted = [];
            trusted.ImportFromPemFile(CaFile);
            if (trusted.Count == 0) throw new IOException($"{CaFile} holds no PEM certificate");
        }
        X509CertificateCollection? clientCertificates = null;
        if (CertFile is not null)
            clientCertificates = [X509Certificate2.CreateFromPemFile(CertFile, KeyFile)];
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = ServerName ?? host,
            EnabledSslProtocols = Protocols,
            ClientCertificates = clientCertificates,
            // --insecure skips only the host name check; the chain (and its server-authentication usage) is still verified.
            RemoteCertificateValidationCallback = (_, _, _, errors) =>
                (Insecure ? errors & ~SslPolicyErrors.RemoteCertificateNameMismatch : errors) == SslPolicyErrors.None,
        };
        if (trusted is not null)
        {
            // A private CA: the platform builds the chain (with any intermediates the server sends) against these roots only.
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.AddRange(trusted);
            policy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.1")); // server authentication
            options.CertificateChainPolicy = policy;
        }
        return options;
    }
}
