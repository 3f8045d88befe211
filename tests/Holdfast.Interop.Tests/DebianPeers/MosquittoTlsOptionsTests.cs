using System.Security.Cryptography.X509Certificates;
using Holdfast.Interop.Tests.Infrastructure;
using static Holdfast.Interop.Tests.DebianPeers.Mosquitto;

namespace Holdfast.Interop.Tests.DebianPeers;

/// <summary>Mosquitto's TLS listener options against Debian's mosquitto_pub/mosquitto_sub (libmosquitto over OpenSSL):
/// the chain completed from cafile, crlfile, use_subject_as_username, and use_identity_as_username without
/// require_certificate, each as Mosquitto 2.0.11 behaves.</summary>
public sealed class MosquittoTlsOptionsTests : IDisposable
{
    private readonly TestCertificates _certificates = new();

    private string RootOnly => _certificates.CaFile;

    private string[] WithCertificate(string cert, string key) => ["--cafile", RootOnly, "--cert", cert, "--key", key];

    private string MutualTls(string extra = "") =>
        $"certfile {_certificates.ServerCertFile}\nkeyfile {_certificates.ServerKeyFile}\ncafile {RootOnly}\nrequire_certificate true\n{extra}";

    private static Task<(int ExitCode, string Stdout, string Stderr)> TryPublishAsync(TestBroker broker, string clientId, string version,
        params string[] args) =>
        ProcessRunner.RunAsync(DebianTool.Require("mosquitto_pub"),
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(), "-V", version, "-i", clientId, .. args], PeerTimeout);

    private static readonly string[] Probe = ["-t", "tls/probe", "-m", "x"];

    [SkippableFact]
    public async Task A_client_that_trusts_only_the_root_verifies_a_server_certificate_whose_intermediate_is_in_cafile()
    {
        // certfile holds the server certificate alone; the intermediate that signed it is only in cafile, as in Mosquitto's
        // own test setup (server.crt, all-ca.crt). OpenSSL completes the chain from there; so must Holdfast.
        string caFile = Path.Combine(_certificates.Directory, "all-ca.pem");
        File.WriteAllText(caFile, File.ReadAllText(_certificates.IntermediateFile) + "\n" + File.ReadAllText(RootOnly));
        await using (var broker = await TestBroker.StartAsync(listenerText: $"certfile {_certificates.ServerLeafFile}\nkeyfile {_certificates.ServerKeyFile}\ncafile {caFile}\n"))
        {
            Assert.EndsWith("is sent with 'CN=Holdfast Test Intermediate' (from cafile/capath).", await broker.Log.WaitForAsync("TLS certificate 'CN=localhost'"));
            var (exit, _, stderr) = await TryPublishAsync(broker, Unique("root"), "mqttv311", [.. Probe, "--cafile", RootOnly]);
            Assert.True(exit == 0, $"a client trusting only the root could not verify the server: {stderr}");
        }

        // Control: without the intermediate anywhere, the same client cannot verify the server certificate.
        await using (var broker = await TestBroker.StartAsync(listenerText: $"certfile {_certificates.ServerLeafFile}\nkeyfile {_certificates.ServerKeyFile}\n"))
        {
            Assert.EndsWith("is sent alone.", await broker.Log.WaitForAsync("TLS certificate 'CN=localhost'"));
            var (exit, _, _) = await TryPublishAsync(broker, Unique("root"), "mqttv311", [.. Probe, "--cafile", RootOnly]);
            Assert.NotEqual(0, exit);
        }
    }

    [SkippableFact]
    public async Task A_client_certificate_the_CRL_revokes_is_refused_and_one_it_does_not_connects()
    {
        var (goodCert, goodKey) = _certificates.Client("good", new X500DistinguishedName("CN=good"));
        var (badCert, badKey) = _certificates.Client("bad", new X500DistinguishedName("CN=bad"));
        string crl = _certificates.Crl("crl.pem", [badCert]);
        await using var broker = await TestBroker.StartAsync(listenerText: MutualTls($"crlfile {crl}\n"));
        await broker.Log.WaitForAsync("crlfile " + crl + ": CRL of 'CN=Holdfast Test CA', 1 revoked, next update ");

        string topic = Unique("crl");
        await using var sub = await SubscribeAsync(broker, "mqttv5", Unique("sub"), [.. WithCertificate(goodCert, goodKey), "-t", topic, "-q", "1", "-C", "1"]);
        string bad = Unique("bad");
        var (exit, _, stderr) = await TryPublishAsync(broker, bad, "mqttv5", [.. WithCertificate(badCert, badKey), "-t", topic, "-q", "1", "-m", "revoked"]);
        Assert.True(exit != 0, $"a revoked certificate got in: {stderr}");
        await broker.Log.WaitForAsync("failed: client certificate 'CN=bad' refused: certificate revoked.");
        await PublishAsync(broker.Port, "mqttv5", Unique("good"), [.. WithCertificate(goodCert, goodKey), "-t", topic, "-q", "1", "-m", "kept"]);
        Assert.Equal(["kept"], await LinesAfterExitAsync(sub));
        Assert.DoesNotContain(broker.Log.Lines, l => l.Contains("New client connected", StringComparison.Ordinal) && l.Contains(bad, StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task A_CRL_past_its_next_update_refuses_every_client_of_its_issuer_as_OpenSSL_does()
    {
        var now = DateTimeOffset.UtcNow;
        string crl = _certificates.Crl("expired-crl.pem", [], thisUpdate: now.AddDays(-2), nextUpdate: now.AddHours(-1));
        await using var broker = await TestBroker.StartAsync(listenerText: MutualTls($"crlfile {crl}\n"));
        var (exit, _, stderr) = await TryPublishAsync(broker, Unique("late"), "mqttv311", [.. Probe, .. WithCertificate(_certificates.ClientCertFile, _certificates.ClientKeyFile)]);
        Assert.True(exit != 0, $"a CRL past its next update let a client in: {stderr}");
        await broker.Log.WaitForAsync("failed: client certificate 'CN=line-7' refused: CRL has expired.");
    }

    [SkippableFact]
    public async Task Use_subject_as_username_gives_the_ACL_the_subject_as_OpenSSL_prints_it()
    {
        var subject = new X500DistinguishedNameBuilder();
        // The builder encodes the last one added first; OpenSSL prints the last encoded first.
        subject.AddCommonName("line-7");
        subject.AddOrganizationalUnitName("Zürich");
        subject.AddOrganizationName("Plant, Inc.");
        subject.AddCountryOrRegion("GB");
        var (cert, key) = _certificates.Client("subject", subject.Build());
        // What Mosquitto would take as the user name: OpenSSL's RFC 2253 print of the subject.
        var (opensslExit, printed, opensslError) = await ProcessRunner.RunAsync(DebianTool.Require("openssl"),
            ["x509", "-in", cert, "-noout", "-subject", "-nameopt", "RFC2253"], PeerTimeout);
        Assert.True(opensslExit == 0, opensslError);
        string userName = printed.Trim()["subject=".Length..];
        Assert.Equal(@"CN=line-7,OU=Z\C3\BCrich,O=Plant\, Inc.,C=GB", userName);

        string acl = Path.Combine(_certificates.Directory, "acl");
        File.WriteAllText(acl, $"user {userName}\ntopic readwrite plant/#\n");
        string passwords = Path.Combine(_certificates.Directory, "passwd");
        File.WriteAllText(passwords, "");
        await using var broker = await TestBroker.StartAsync($"allow_anonymous false\npassword_file {passwords}\nacl_file {acl}\n",
            MutualTls("use_subject_as_username true\n"));

        string subId = Unique("sub");
        await using var sub = await SubscribeAsync(broker, "mqttv5", subId, [.. WithCertificate(cert, key), "-t", "plant/#", "-q", "1", "-C", "1", "-v"]);
        Assert.Contains($"u'{userName}'", await broker.Log.WaitForAsync($"as {subId} "));
        string pubId = Unique("pub");
        // A user name and password in CONNECT are ignored: the certificate says who the client is.
        var (exit, _, stderr) = await TryPublishAsync(broker, pubId, "mqttv5", [.. WithCertificate(cert, key), "-u", "mallory", "-P", "x",
            "-t", "secret/x", "-q", "1", "-m", "denied"]);
        Assert.Contains("Not authorized", stderr + exit, StringComparison.Ordinal);
        await broker.Log.WaitForAsync($"Denied PUBLISH from {pubId}");
        await PublishAsync(broker.Port, "mqttv5", Unique("pub"), [.. WithCertificate(cert, key), "-t", "plant/line-7", "-q", "1", "-m", "21.5"]);
        Assert.Equal(["plant/line-7 21.5"], await LinesAfterExitAsync(sub));
    }

    [SkippableTheory]
    [InlineData("use_subject_as_username")]
    [InlineData("use_identity_as_username")]
    public async Task A_reload_keeps_clients_whose_user_name_came_from_their_certificate(string option)
    {
        // Mosquitto's 08-ssl-hup-disconnect: the password file names a user with the certificate's name, but it is not
        // what let the client in, so re-reading it on SIGHUP must not disconnect the client.
        string passwords = Path.Combine(_certificates.Directory, "passwd");
        File.WriteAllText(passwords, "line-7:$7$101$aaaaaaaaaaaaaaaa$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
        await using var broker = await TestBroker.StartAsync($"allow_anonymous false\npassword_file {passwords}\n", MutualTls($"{option} true\n"));
        string topic = Unique("hup");
        string[] client = WithCertificate(_certificates.ClientCertFile, _certificates.ClientKeyFile);
        await using var sub = await SubscribeAsync(broker, "mqttv311", Unique("sub"), [.. client, "-t", topic, "-q", "1", "-C", "1"]);
        File.WriteAllText(passwords, "");
        broker.Server.Reload();
        Assert.Contains("(0 clients disconnected)", await broker.Log.WaitForAsync("Password and ACL files reloaded"));
        await PublishAsync(broker.Port, "mqttv311", Unique("pub"), [.. client, "-t", topic, "-q", "1", "-m", "still here"]);
        Assert.Equal(["still here"], await LinesAfterExitAsync(sub));
    }

    [SkippableFact]
    public async Task Use_identity_as_username_without_require_certificate_refuses_every_client_as_bad_user_name()
    {
        // Mosquitto 2.0.11 accepts this config (its test 08-ssl-connect-no-identity): no certificate is asked for, so
        // no client has a CN to give, and each gets CONNACK 4 (bad user name or password).
        await using var broker = await TestBroker.StartAsync(listenerText:
            $"certfile {_certificates.ServerCertFile}\nkeyfile {_certificates.ServerKeyFile}\ncafile {RootOnly}\nuse_identity_as_username true\n");
        await broker.Log.WaitForAsync("use_identity_as_username without require_certificate true");
        var (exit, _, _) = await TryPublishAsync(broker, Unique("noid"), "mqttv311", [.. Probe, .. WithCertificate(_certificates.ClientCertFile, _certificates.ClientKeyFile)]);
        Assert.Equal(4, exit);
        await broker.Log.WaitForAsync("refused: no client certificate to take the user name from (use_identity_as_username).");
    }

    public void Dispose() => _certificates.Dispose();
}
