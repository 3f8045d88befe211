using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Holdfast.Testing;

/// <summary>A private CA, a server certificate for 127.0.0.1/localhost issued through an intermediate CA (the server file
/// holds both, as real deployments do), and a client certificate, as PEM files in a temporary directory (deleted with this
/// object). More client certificates and CRLs can be issued by either CA.</summary>
public sealed class TestCertificates : IDisposable
{
    private readonly RSA _caKey = RSA.Create(2048);
    private readonly RSA _intermediateKey = RSA.Create(2048);
    private readonly X509Certificate2 _ca;
    private readonly X509Certificate2 _intermediate;

    public TestCertificates()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("holdfast-tls-").FullName;
        var caRequest = new CertificateRequest("CN=Holdfast Test CA", _caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        _ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddDays(30));
        CaFile = Write("ca.pem", _ca.ExportCertificatePem());

        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        var intermediateRequest = new CertificateRequest("CN=Holdfast Test Intermediate", _intermediateKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        intermediateRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        intermediateRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using (var intermediate = intermediateRequest.Create(_ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(29), RandomNumberGenerator.GetBytes(8)))
            _intermediate = intermediate.CopyWithPrivateKey(_intermediateKey);
        IntermediateFile = Write("intermediate.pem", _intermediate.ExportCertificatePem());
        (ServerCertFile, ServerKeyFile) = Issue(_intermediate, _intermediateKey, "server", new X500DistinguishedName("CN=localhost"), names.Build(), "1.3.6.1.5.5.7.3.1");
        ServerLeafFile = Write("server-leaf.pem", File.ReadAllText(ServerCertFile));
        File.AppendAllText(ServerCertFile, "\n" + _intermediate.ExportCertificatePem() + "\n");
        (ClientCertFile, ClientKeyFile) = Issue(_ca, _caKey, "client", new X500DistinguishedName("CN=line-7"), null, "1.3.6.1.5.5.7.3.2");
    }

    public string Directory { get; }
    /// <summary>The root CA alone.</summary>
    public string CaFile { get; }
    /// <summary>The intermediate CA alone (it issued the server certificate).</summary>
    public string IntermediateFile { get; }
    /// <summary>The server certificate followed by the intermediate CA.</summary>
    public string ServerCertFile { get; }
    /// <summary>The server certificate alone, without its chain.</summary>
    public string ServerLeafFile { get; }
    public string ServerKeyFile { get; }
    public string ClientCertFile { get; }
    public string ClientKeyFile { get; }

    /// <summary>A client certificate with <paramref name="subject"/>, issued by the root CA or the intermediate.</summary>
    public (string Cert, string Key) Client(string name, X500DistinguishedName subject, bool byIntermediate = false) =>
        byIntermediate ? Issue(_intermediate, _intermediateKey, name, subject, null, "1.3.6.1.5.5.7.3.2")
            : Issue(_ca, _caKey, name, subject, null, "1.3.6.1.5.5.7.3.2");

    /// <summary>A PEM CRL of the root CA (or the intermediate) revoking the certificates in the files <paramref name="revoked"/>.</summary>
    public string Crl(string name, IEnumerable<string> revoked, bool byIntermediate = false, DateTimeOffset? thisUpdate = null, DateTimeOffset? nextUpdate = null)
    {
        var builder = new CertificateRevocationListBuilder();
        foreach (var file in revoked)
        {
            using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(file));
            builder.AddEntry(certificate, DateTimeOffset.UtcNow.AddMinutes(-5));
        }
        var now = thisUpdate ?? DateTimeOffset.UtcNow.AddMinutes(-10);
        byte[] crl = builder.Build(byIntermediate ? _intermediate : _ca, 1, nextUpdate ?? now.AddDays(7), HashAlgorithmName.SHA256,
            RSASignaturePadding.Pkcs1, now);
        return Write(name, PemEncoding.WriteString("X509 CRL", crl) + "\n");
    }

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
        return Issue(foreignCa, key, "foreign-client", new X500DistinguishedName("CN=intruder"), null, "1.3.6.1.5.5.7.3.2", issuerAccess);
    }

    private (string Cert, string Key) Issue(X509Certificate2 issuer, RSA issuerKey, string name, X500DistinguishedName subject, X509Extension? names,
        string usage, X509Extension? extra = null)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        if (names is not null) request.CertificateExtensions.Add(names);
        if (extra is not null) request.CertificateExtensions.Add(extra);
        byte[] serial = RandomNumberGenerator.GetBytes(8);
        serial[0] &= 0x7F;
        using var certificate = request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForRSA(issuerKey, RSASignaturePadding.Pkcs1),
            DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(28), serial);
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
        _ca.Dispose();
        _intermediate.Dispose();
        _caKey.Dispose();
        _intermediateKey.Dispose();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
