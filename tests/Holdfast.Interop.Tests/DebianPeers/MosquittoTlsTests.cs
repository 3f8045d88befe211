using Holdfast.Interop.Tests.Infrastructure;
using static Holdfast.Interop.Tests.DebianPeers.Mosquitto;

namespace Holdfast.Interop.Tests.DebianPeers;

/// <summary>Debian's mosquitto_pub/mosquitto_sub (libmosquitto over OpenSSL) against Holdfast's TLS listeners, with a CA
/// chain the test makes: the server certificate comes through an intermediate CA, so the chain in certfile must be sent.</summary>
public sealed class MosquittoTlsTests : IDisposable
{
    private readonly TestCertificates _certificates = new();

    private string TlsListener(string extra = "") =>
        $"certfile {_certificates.ServerCertFile}\nkeyfile {_certificates.ServerKeyFile}\ncafile {_certificates.CaFile}\n{extra}";

    private string[] ClientCertificate => ["--cafile", _certificates.CaFile, "--cert", _certificates.ClientCertFile, "--key", _certificates.ClientKeyFile];

    private static Task<(int ExitCode, string Stdout, string Stderr)> TryPublishAsync(TestBroker broker, string clientId, params string[] args) =>
        ProcessRunner.RunAsync(DebianTool.Require("mosquitto_pub"),
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(), "-V", "mqttv311", "-i", clientId, "-t", "tls/probe", "-m", "x", .. args], PeerTimeout);

    [SkippableTheory]
    [InlineData("mqttv311")]
    [InlineData("mqttv5")]
    public async Task Without_require_certificate_a_client_needs_only_the_CA(string version)
    {
        await using var broker = await TestBroker.StartAsync(listenerText: TlsListener());
        string topic = Unique("tls");
        await using var sub = await SubscribeAsync(broker, version, Unique("sub"), "--cafile", _certificates.CaFile, "-t", topic, "-q", "1", "-C", "2");
        await PublishAsync(broker.Port, version, Unique("pub"), ["--cafile", _certificates.CaFile, "-t", topic, "-q", "1", "-m", "sealed"]);
        await PublishAsync(broker.Port, version, Unique("pub"), [.. ClientCertificate, "-t", topic, "-q", "1", "-m", "with a certificate nobody asked for"]);
        Assert.Equal(["sealed", "with a certificate nobody asked for"], await LinesAfterExitAsync(sub));
    }

    [SkippableFact]
    public async Task With_require_certificate_only_a_certificate_from_cafile_gets_in()
    {
        await using var broker = await TestBroker.StartAsync(listenerText: TlsListener("require_certificate true\n"));
        string topic = Unique("mtls");
        await using var sub = await SubscribeAsync(broker, "mqttv311", Unique("sub"), [.. ClientCertificate, "-t", topic, "-q", "1", "-C", "1"]);
        await PublishAsync(broker.Port, "mqttv311", Unique("pub"), [.. ClientCertificate, "-t", topic, "-q", "1", "-m", "mutual"]);
        Assert.Equal(["mutual"], await LinesAfterExitAsync(sub));

        var (exit, _, stderr) = await TryPublishAsync(broker, Unique("nocert"), "--cafile", _certificates.CaFile);
        Assert.True(exit != 0, $"a client without a certificate got in: {stderr}");
        await broker.Log.WaitForAsync("failed: no client certificate.");

        var (foreignCert, foreignKey) = _certificates.ForeignClient();
        (exit, _, stderr) = await TryPublishAsync(broker, Unique("foreign"), "--cafile", _certificates.CaFile, "--cert", foreignCert, "--key", foreignKey);
        Assert.True(exit != 0, $"a certificate from a foreign CA got in: {stderr}");
        await broker.Log.WaitForAsync("failed: client certificate 'CN=intruder' refused: ");
        Assert.DoesNotContain(broker.Log.Lines, l => l.Contains("New client connected") && (l.Contains("nocert") || l.Contains("foreign")));
    }

    [SkippableFact]
    public async Task Use_identity_as_username_makes_the_certificate_CN_the_user_name_and_skips_the_password_file()
    {
        using var dir = new TempFile("");
        string config = $"allow_anonymous false\npassword_file {dir.Path}\n";
        // Control: the same listener without use_identity_as_username refuses the anonymous certificate holder (code 5).
        await using (var plain = await TestBroker.StartAsync(config, TlsListener("require_certificate true\n")))
        {
            var (refused, _, _) = await TryPublishAsync(plain, Unique("anon"), ClientCertificate);
            Assert.Equal(5, refused);
        }

        await using var broker = await TestBroker.StartAsync(config, TlsListener("require_certificate true\nuse_identity_as_username true\n"));
        string id = Unique("cn");
        var (exit, _, stderr) = await TryPublishAsync(broker, id, ClientCertificate);
        Assert.True(exit == 0, stderr);
        Assert.Contains("u'line-7'", await broker.Log.WaitForAsync($"as {id} "));

        // A user name and password in CONNECT are replaced by the certificate's identity, as in Mosquitto.
        string other = Unique("cn");
        (exit, _, stderr) = await TryPublishAsync(broker, other, [.. ClientCertificate, "-u", "mallory", "-P", "wrong"]);
        Assert.True(exit == 0, stderr);
        Assert.Contains("u'line-7'", await broker.Log.WaitForAsync($"as {other} "));
    }

    [SkippableFact]
    public async Task A_client_certificate_never_makes_the_broker_fetch_its_issuer()
    {
        // A certificate may name a URL for its issuer (AIA). Fetching it would let any unauthenticated peer make the broker
        // send requests where it likes, and stall a thread for as long as that server takes.
        var trap = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        trap.Start();
        try
        {
            var (cert, key) = _certificates.ForeignClient($"http://127.0.0.1:{((System.Net.IPEndPoint)trap.LocalEndpoint).Port}/issuer.crt");
            await using var broker = await TestBroker.StartAsync(listenerText: TlsListener("require_certificate true\n"));
            var (exit, _, stderr) = await TryPublishAsync(broker, Unique("aia"), "--cafile", _certificates.CaFile, "--cert", cert, "--key", key);
            Assert.True(exit != 0, $"a certificate from a foreign CA got in: {stderr}");
            await broker.Log.WaitForAsync("failed: client certificate 'CN=intruder' refused: ");
            Assert.False(trap.Pending(), "the broker connected to the URL in the client's certificate");
        }
        finally
        {
            trap.Stop();
        }
    }

    [SkippableFact]
    public async Task A_client_that_offers_mqtt_by_ALPN_gets_in()
    {
        // Left to Kestrel, an MQTT listener would offer only h2 and http/1.1 and refuse this client (RFC 7301).
        await using var broker = await TestBroker.StartAsync(listenerText: TlsListener());
        var (exit, _, stderr) = await TryPublishAsync(broker, Unique("alpn"), "--cafile", _certificates.CaFile, "--tls-alpn", "mqtt");
        Assert.True(exit == 0, stderr);
    }

    public void Dispose() => _certificates.Dispose();

    private sealed class TempFile : IDisposable
    {
        public TempFile(string text)
        {
            Path = System.IO.Path.GetTempFileName();
            File.WriteAllText(Path, text);
        }

        public string Path { get; }

        public void Dispose() => File.Delete(Path);
    }
}
