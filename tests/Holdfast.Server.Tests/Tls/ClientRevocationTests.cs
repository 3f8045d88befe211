using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Holdfast.Server.Tls;

namespace Holdfast.Server.Tests.Tls;

/// <summary>crlfile as OpenSSL applies it for Mosquitto (X509_V_FLAG_CRL_CHECK): the client's own certificate, against a
/// list its issuer signed.</summary>
public sealed class ClientRevocationTests : IDisposable
{
    private readonly TestCertificates _certificates = new();
    private readonly X509Certificate2 _ca;
    private readonly X509Certificate2 _intermediate;

    public ClientRevocationTests()
    {
        _ca = X509Certificate2.CreateFromPem(File.ReadAllText(_certificates.CaFile));
        _intermediate = X509Certificate2.CreateFromPem(File.ReadAllText(_certificates.IntermediateFile));
    }

    private X509Certificate2Collection Trusted => [_ca, _intermediate];

    private static X509Certificate2 Load(string file) => X509Certificate2.CreateFromPem(File.ReadAllText(file));

    private (X509Certificate2 Revoked, X509Certificate2 Kept) TwoClients()
    {
        var (revoked, _) = _certificates.Client("revoked", new X500DistinguishedName("CN=revoked"));
        var (kept, _) = _certificates.Client("kept", new X500DistinguishedName("CN=kept"));
        return (Load(revoked), Load(kept));
    }

    [Fact]
    public void A_listed_certificate_is_refused_and_an_unlisted_one_passes()
    {
        var (revoked, kept) = TwoClients();
        var lists = ClientRevocation.Load(_certificates.Crl("crl.pem", [_certificates.Directory + "/revoked.pem"]), Trusted);
        Assert.Equal("certificate revoked", lists.Refusal(revoked, _ca, DateTimeOffset.UtcNow));
        Assert.Null(lists.Refusal(kept, _ca, DateTimeOffset.UtcNow));
        Assert.Single(lists.Notes, n => n.Contains("CRL of 'CN=Holdfast Test CA', 1 revoked, next update ", StringComparison.Ordinal));
    }

    [Fact]
    public void Without_a_list_from_the_issuer_the_certificate_is_refused_as_OpenSSL_does()
    {
        var (_, kept) = TwoClients();
        var lists = ClientRevocation.Load(_certificates.Crl("crl.pem", [], byIntermediate: true), Trusted);
        Assert.Equal("unable to get certificate CRL", lists.Refusal(kept, _ca, DateTimeOffset.UtcNow));
    }

    [Fact]
    public void An_expired_list_refuses_every_certificate_of_its_issuer()
    {
        var (_, kept) = TwoClients();
        var now = DateTimeOffset.UtcNow;
        var lists = ClientRevocation.Load(_certificates.Crl("crl.pem", [], thisUpdate: now.AddDays(-2), nextUpdate: now.AddDays(-1)), Trusted);
        Assert.Equal("CRL has expired", lists.Refusal(kept, _ca, now));
        Assert.Equal("CRL is not yet valid", lists.Refusal(kept, _ca, now.AddDays(-3)));
        Assert.Null(lists.Refusal(kept, _ca, now.AddDays(-1.5)));
    }

    [Fact]
    public void Of_several_lists_from_one_issuer_the_newest_in_force_decides()
    {
        var (revoked, _) = TwoClients();
        var now = DateTimeOffset.UtcNow;
        string older = _certificates.Crl("older.pem", [_certificates.Directory + "/revoked.pem"], thisUpdate: now.AddHours(-2));
        string newer = _certificates.Crl("newer.pem", [], thisUpdate: now.AddHours(-1));
        string both = Path.Combine(_certificates.Directory, "both.pem");
        File.WriteAllText(both, File.ReadAllText(older) + File.ReadAllText(newer));
        var lists = ClientRevocation.Load(both, Trusted);
        Assert.Null(lists.Refusal(revoked, _ca, now));
        Assert.Equal("certificate revoked", lists.Refusal(revoked, _ca, now.AddHours(-1.5)));
    }

    [Fact]
    public void A_list_whose_issuer_is_not_trusted_is_noted_and_never_used()
    {
        var lists = ClientRevocation.Load(_certificates.Crl("crl.pem", []), [_intermediate]);
        Assert.Equal([$"{_certificates.Directory}/crl.pem: the CRL of 'CN=Holdfast Test CA' is not used: its issuer is not in cafile/capath."], lists.Notes);
    }

    [Fact]
    public void A_list_signed_with_ECDSA_is_verified()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=EC CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var builder = new CertificateRevocationListBuilder();
        builder.AddEntry([0x01, 0x02]);
        string path = Path.Combine(_certificates.Directory, "ec-crl.pem");
        File.WriteAllText(path, PemEncoding.WriteString("X509 CRL", builder.Build(ca, 1, DateTimeOffset.UtcNow.AddDays(1), HashAlgorithmName.SHA384)));

        var lists = ClientRevocation.Load(path, [X509CertificateLoader.LoadCertificate(ca.RawData)]);
        Assert.Contains("CRL of 'CN=EC CA', 1 revoked", Assert.Single(lists.Notes), StringComparison.Ordinal);
    }

    [Fact]
    public void A_CA_that_may_not_sign_CRLs_is_refused()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=No CRL CA", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var signer = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        string path = Path.Combine(_certificates.Directory, "crl.pem");
        File.WriteAllText(path, PemEncoding.WriteString("X509 CRL", new CertificateRevocationListBuilder().Build(signer, 1, DateTimeOffset.UtcNow.AddDays(1), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)));
        // The same name and key, without cRLSign in its key usage.
        var restricted = new CertificateRequest("CN=No CRL CA", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        restricted.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        restricted.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var ca = restricted.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));

        var e = Assert.Throws<FormatException>(() => ClientRevocation.Load(path, [X509CertificateLoader.LoadCertificate(ca.RawData)]));
        Assert.Equal($"{path}: its issuer 'CN=No CRL CA' may not sign CRLs (key usage without cRLSign)", e.Message);
    }

    [Fact]
    public void A_CRL_whose_two_signature_algorithms_differ_is_refused()
    {
        string text = File.ReadAllText(_certificates.Crl("crl.pem", []));
        byte[] der = Convert.FromBase64String(text[PemEncoding.Find(text).Base64Data]);
        // sha256WithRSAEncryption (1.2.840.113549.1.1.11) first appears in the signed part: made sha384's (…1.1.12).
        byte[] oid = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B];
        int at = der.AsSpan().IndexOf(oid);
        Assert.True(at > 0 && der.AsSpan(at + oid.Length).IndexOf(oid) > 0, "both algorithm identifiers are sha256WithRSAEncryption");
        der[at + oid.Length - 1] = 0x0C;
        var e = Assert.Throws<FormatException>(() => RevocationList.Parse(der));
        Assert.Contains("different algorithms", e.Message);
    }

    public void Dispose()
    {
        _ca.Dispose();
        _intermediate.Dispose();
        _certificates.Dispose();
    }
}
