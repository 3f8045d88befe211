using Holdfast.Broker;
using Holdfast.Server.Configuration;

namespace Holdfast.Server.Tests;

/// <summary>TLS settings that cannot work stop startup naming the config line, the file and why (not a listener that
/// fails every handshake, or serves cleartext, later).</summary>
public sealed class TlsConfigErrorTests : IDisposable
{
    private readonly TestCertificates _certificates = new();
    private readonly TempDirectory _dir = new();

    private string Listener(string extra = "") =>
        $"persistence false\nlistener 8883\ncertfile {_certificates.ServerCertFile}\nkeyfile {_certificates.ServerKeyFile}\n{extra}";

    private static ConfigException Fails(string text) =>
        Assert.Throws<ConfigException>(() => new HoldfastServer(ConfigParser.Parse(text, "h.conf"), NullBrokerLog.Instance));

    [Fact]
    public async Task A_listener_with_usable_certificates_is_accepted()
    {
        await using var server = new HoldfastServer(ConfigParser.Parse(Listener($"cafile {_certificates.CaFile}\nrequire_certificate true\n"
            + "use_identity_as_username true\ntls_version tlsv1.3\n"), "h.conf"), NullBrokerLog.Instance);
    }

    [Fact]
    public void Certfile_without_keyfile() =>
        Assert.Equal("h.conf:3: certfile: keyfile is missing: certfile and keyfile together enable TLS",
            Fails($"persistence false\nlistener 8883\ncertfile {_certificates.ServerCertFile}\n").Message);

    [Fact]
    public void A_TLS_key_without_certfile_and_keyfile() =>
        Assert.Equal("h.conf:3: require_certificate: needs certfile and keyfile on this listener (without them it serves no TLS)",
            Fails("persistence false\nlistener 8883\nrequire_certificate true\n").Message);

    [Fact]
    public void A_missing_certfile_is_named_with_its_line()
    {
        var e = Fails($"persistence false\nlistener 8883\ncertfile /nonexistent/server.pem\nkeyfile {_certificates.ServerKeyFile}\n");
        Assert.StartsWith("h.conf:3: certfile: cannot read /nonexistent/server.pem: ", e.Message);
    }

    [Fact]
    public void A_certfile_that_is_not_PEM()
    {
        string junk = _dir.Write("junk.pem", "this is not a certificate\n");
        var e = Fails($"persistence false\nlistener 8883\ncertfile {junk}\nkeyfile {_certificates.ServerKeyFile}\n");
        Assert.Equal($"h.conf:3: certfile: {junk} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", e.Message);
    }

    [Fact]
    public void A_keyfile_that_does_not_belong_to_the_certificate()
    {
        var e = Fails($"persistence false\nlistener 8883\ncertfile {_certificates.ServerCertFile}\nkeyfile {_certificates.ClientKeyFile}\n");
        Assert.StartsWith($"h.conf:4: keyfile: cannot use {_certificates.ClientKeyFile} as the key of {_certificates.ServerCertFile}: ", e.Message);
    }

    [Fact]
    public void A_cafile_with_a_broken_certificate()
    {
        string broken = _dir.Write("ca.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        var e = Fails(Listener($"cafile {broken}\n"));
        Assert.StartsWith($"h.conf:5: cafile: cannot read {broken}: ", e.Message);
    }

    [Fact]
    public void Require_certificate_needs_CAs_to_check_against() =>
        Assert.Equal("h.conf:5: require_certificate: needs cafile or capath: the CAs client certificates are checked against",
            Fails(Listener("require_certificate true\n")).Message);

    [Fact]
    public void Use_identity_as_username_without_require_certificate_is_accepted_with_a_warning()
    {
        // As Mosquitto 2.0.11 (its test 08-ssl-connect-no-identity): no certificate is asked for, so every client is refused.
        var config = ConfigParser.Parse(Listener($"cafile {_certificates.CaFile}\nuse_identity_as_username true\n"), "h.conf");
        var tls = Holdfast.Server.Tls.ListenerTls.Load(config.Listeners[0])!;
        Assert.False(tls.RequireCertificate);
        Assert.Equal(["Listener 8883: use_identity_as_username without require_certificate true: no client certificate is asked for, "
            + "so every client is refused (bad user name or password)."], tls.Warnings);
    }

    [Fact]
    public void Use_identity_and_use_subject_together_are_refused() =>
        Assert.Equal("h.conf:8: use_subject_as_username: use_identity_as_username is also set: choose the CN or the whole subject",
            Fails(Listener($"cafile {_certificates.CaFile}\nrequire_certificate true\nuse_identity_as_username true\nuse_subject_as_username true\n")).Message);

    [Fact]
    public void Crlfile_needs_require_certificate()
    {
        string crl = _certificates.Crl("crl.pem", []);
        Assert.Equal("h.conf:6: crlfile: needs require_certificate true (the CRL is checked against client certificates)",
            Fails(Listener($"cafile {_certificates.CaFile}\ncrlfile {crl}\n")).Message);
    }

    [Fact]
    public void A_missing_crlfile_is_named_with_its_line() =>
        Assert.StartsWith("h.conf:7: crlfile: cannot read /nonexistent/crl.pem: ",
            Fails(Listener($"cafile {_certificates.CaFile}\nrequire_certificate true\ncrlfile /nonexistent/crl.pem\n")).Message);

    [Fact]
    public void A_crlfile_without_a_CRL()
    {
        string notCrl = _certificates.CaFile;
        Assert.Equal($"h.conf:7: crlfile: {notCrl} holds no PEM CRL (-----BEGIN X509 CRL-----)",
            Fails(Listener($"cafile {_certificates.CaFile}\nrequire_certificate true\ncrlfile {notCrl}\n")).Message);
    }

    [Fact]
    public void A_broken_CRL()
    {
        string broken = _dir.Write("broken.pem", "-----BEGIN X509 CRL-----\nMAMCAQA=\n-----END X509 CRL-----\n");
        Assert.StartsWith($"h.conf:7: crlfile: {broken}: not a valid CRL (",
            Fails(Listener($"cafile {_certificates.CaFile}\nrequire_certificate true\ncrlfile {broken}\n")).Message);
    }

    [Fact]
    public void A_CRL_whose_signature_does_not_verify_with_its_issuer_in_cafile()
    {
        // Signed by the real CA, checked against another certificate of the same name and a different key.
        string crl = _certificates.Crl("crl.pem", []);
        using var impostor = new TestCertificates();
        Assert.Equal($"h.conf:7: crlfile: {crl}: its signature does not verify with the key of 'CN=Holdfast Test CA' in cafile/capath",
            Fails(Listener($"cafile {impostor.CaFile}\nrequire_certificate true\ncrlfile {crl}\n")).Message);
    }

    [Fact]
    public void A_capath_without_pem_files() =>
        Assert.Equal($"h.conf:5: capath: {_dir.Path} holds no *.pem CA certificate", Fails(Listener($"capath {_dir.Path}\n")).Message);

    [Fact]
    public async Task A_capath_with_pem_files_is_accepted()
    {
        File.Copy(_certificates.CaFile, Path.Combine(_dir.Path, "ca.pem"));
        await using var server = new HoldfastServer(ConfigParser.Parse(Listener($"capath {_dir.Path}\nrequire_certificate true\n"), "h.conf"),
            NullBrokerLog.Instance);
    }

    public void Dispose()
    {
        _certificates.Dispose();
        _dir.Dispose();
    }
}
