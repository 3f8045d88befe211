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
        return new SslClientAuthenticationOptions
        {
            TargetHost = ServerName ?? host,
            EnabledSslProtocols = Protocols,
            ClientCertificates = clientCertificates,
            RemoteCertificateValidationCallback = (_, certificate, chain, errors) => Validate(certificate, errors, trusted),
        };
    }

    private bool Validate(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2Collection? trusted)
    {
        if (certificate is null) return false;
        if (Insecure) errors &= ~SslPolicyErrors.RemoteCertificateNameMismatch;
        if (trusted is null) return errors == SslPolicyErrors.None;

        // A private CA: build the chain against it alone, and keep only the name check from the platform's verdict.
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        bool chainOk = chain.Build(new X509Certificate2(certificate));
        return chainOk && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0;
    }
}
