using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Holdfast.Testing;

/// <summary>A private CA, a server certificate for 127.0.0.1/localhost issued through an intermediate CA (the server file
/// holds both, as real deployments do), and a client certificate, as PEM files in a temporary directory (deleted with this
/// object).</summary>
public sealed class TestCertificates : IDisposable
{
    public TestCertificates()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("holdfast-tls-").FullName;
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=Holdfast Test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        CaFile = Write("ca.pem", ca.ExportCertificatePem());

        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        using var intermediateKey = RSA.Create(2048);
        var intermediateRequest = new CertificateRequest("CN=Holdfast Test Intermediate", intermediateKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        intermediateRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        intermediateRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var intermediate = intermediateRequest.Create(ca.SubjectName, X509SignatureGenerator.CreateForRSA(caKey, RSASignaturePadding.Pkcs1),
            DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30), RandomNumberGenerator.GetBytes(8));
        (ServerCertFile, ServerKeyFile) = Issue(intermediate, intermediateKey, "server", "CN=localhost", names.Build(), "1.3.6.1.5.5.7.3.1");
        File.AppendAllText(ServerCertFile, "\n" + intermediate.ExportCertificatePem() + "\n");
        (ClientCertFile, ClientKeyFile) = Issue(ca, caKey, "client", "CN=line-7", null, "1.3.6.1.5.5.7.3.2");
    }

    public string Directory { get; }
    public string CaFile { get; }
    public string ServerCertFile { get; }
    public string ServerKeyFile { get; }
    public string ClientCertFile { get; }
    public string ClientKeyFile { get; }

    /// <summary>A CA nobody signed these certificates with, for the refusal test.</summary>
    public string OtherCaFile()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=Someone Else", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var other = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return Write("other-ca.pem", other.ExportCertificatePem());
    }

    /// <summary>A client certificate (CN=intruder) issued by a CA the broker does not trust; with <paramref name="issuerUrl"/>
    /// it says where its issuer can be fetched (Authority Information Access), as an attacker's certificate might.</summary>
    public (string Cert, string Key) ForeignClient(string? issuerUrl = null)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=Foreign CA", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var foreignCa = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var issuerAccess = issuerUrl is null ? null : new X509AuthorityInformationAccessExtension(null, [issuerUrl]);
        return Issue(foreignCa, key, "foreign-client", "CN=intruder", null, "1.3.6.1.5.5.7.3.2", issuerAccess);
    }

    private (string Cert, string Key) Issue(X509Certificate2 issuer, RSA issuerKey, string name, string subject, X509Extension? names, string usage,
        X509Extension? extra = null)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        if (names is not null) request.CertificateExtensions.Add(names);
        if (extra is not null) request.CertificateExtensions.Add(extra);
        byte[] serial = RandomNumberGenerator.GetBytes(8);
        using var certificate = request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForRSA(issuerKey, RSASignaturePadding.Pkcs1),
            DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30), serial);
        return (Write($"{name}.pem", certificate.ExportCertificatePem()), Write($"{name}.key", key.ExportPkcs8PrivateKeyPem()));
    }

    private string Write(string name, string pem)
    {
        string path = Path.Combine(Directory, name);
        File.WriteAllText(path, pem);
        return path;
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
