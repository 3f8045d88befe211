using Holdfast.Tools.Tests.Infrastructure;
using static Holdfast.Tools.Tests.Clients.ClientTools;

namespace Holdfast.Tools.Tests.Clients;

/// <summary>pub and sub over TLS with certificates the test makes, against Holdfast's TLS listeners and Debian's Mosquitto
/// (the same config lines for both).</summary>
public class TlsTests
{
    private static string TlsListener(TestCertificates certificates, bool requireCertificate) =>
        $"cafile {certificates.CaFile}\ncertfile {certificates.ServerCertFile}\nkeyfile {certificates.ServerKeyFile}\n"
        + (requireCertificate ? "require_certificate true\n" : "");

    [SkippableTheory]
    [MemberData(nameof(BrokerProcess.Names), MemberType = typeof(BrokerProcess))]
    public async Task Pub_and_sub_talk_over_TLS_with_a_private_CA(string brokerName)
    {
        using var certificates = new TestCertificates();
        await using var broker = await BrokerProcess.StartAsync(brokerName, TlsListener(certificates, requireCertificate: false));
        string topic = Unique("tls");
        await using var sub = await StartSubAsync(broker, "--cafile", certificates.CaFile, "-t", topic, "-q", "1", "-C", "1");
        await PubAsync(broker, ["--cafile", certificates.CaFile, "-t", topic, "-q", "1", "-m", "sealed"]);
        Assert.Equal(["sealed"], await LinesAfterExitAsync(sub));
    }

    [SkippableTheory]
    [MemberData(nameof(BrokerProcess.Names), MemberType = typeof(BrokerProcess))]
    public async Task A_client_certificate_gets_in_where_the_broker_requires_one(string brokerName)
    {
        using var certificates = new TestCertificates();
        await using var broker = await BrokerProcess.StartAsync(brokerName, TlsListener(certificates, requireCertificate: true));
        string topic = Unique("mtls");
        string[] tls = ["--cafile", certificates.CaFile, "--cert", certificates.ClientCertFile, "--key", certificates.ClientKeyFile];
        await using var sub = await StartSubAsync(broker, [.. tls, "-t", topic, "-C", "1"]);
        await PubAsync(broker, [.. tls, "-t", topic, "-m", "mutual"]);
        Assert.Equal(["mutual"], await LinesAfterExitAsync(sub));

        var (exit, _, stderr) = await HoldfastCli.RunAsync(["pub", "-h", "127.0.0.1", "-p", broker.Port.ToString(), "--cafile", certificates.CaFile,
            "-t", topic, "-m", "no certificate"]);
        Assert.True(exit == 1, $"exit {exit}: {stderr}");
        Assert.Contains("Connection error", stderr);
    }

    [SkippableTheory]
    [MemberData(nameof(BrokerProcess.Names), MemberType = typeof(BrokerProcess))]
    public async Task A_server_certificate_from_another_CA_is_refused(string brokerName)
    {
        using var certificates = new TestCertificates();
        await using var broker = await BrokerProcess.StartAsync(brokerName, TlsListener(certificates, requireCertificate: false));
        var (exit, _, stderr) = await HoldfastCli.RunAsync(["pub", "-h", "127.0.0.1", "-p", broker.Port.ToString(),
            "--cafile", certificates.OtherCaFile(), "-t", "a", "-m", "x"]);
        Assert.True(exit == 1, $"exit {exit}: {stderr}");
        Assert.Contains("Connection error", stderr);
    }

    [SkippableTheory]
    [MemberData(nameof(BrokerProcess.Names), MemberType = typeof(BrokerProcess))]
    public async Task Tls_version_is_the_listeners_minimum(string brokerName)
    {
        using var certificates = new TestCertificates();
        await using var broker = await BrokerProcess.StartAsync(brokerName, TlsListener(certificates, requireCertificate: false) + "tls_version tlsv1.3\n");
        string topic = Unique("tlsv");
        await PubAsync(broker, ["--cafile", certificates.CaFile, "--tls-version", "tlsv1.3", "-t", topic, "-m", "new enough"]);
        var (exit, _, stderr) = await HoldfastCli.RunAsync(["pub", "-h", "127.0.0.1", "-p", broker.Port.ToString(), "--cafile", certificates.CaFile,
            "--tls-version", "tlsv1.2", "-t", topic, "-m", "too old"]);
        Assert.True(exit == 1, $"exit {exit}: {stderr}");
        Assert.Contains("Connection error", stderr);
    }

    [SkippableFact]
    public async Task Holdfast_logs_a_refused_client_certificate_as_a_failed_connection()
    {
        using var certificates = new TestCertificates();
        await using var broker = await BrokerProcess.StartHoldfastAsync(TlsListener(certificates, requireCertificate: true));
        var (foreignCert, foreignKey) = certificates.ForeignClient();
        var (exit, _, stderr) = await HoldfastCli.RunAsync(["pub", "-h", "127.0.0.1", "-p", broker.Port.ToString(), "--cafile", certificates.CaFile,
            "--cert", foreignCert, "--key", foreignKey, "-t", "a", "-m", "x"]);
        Assert.True(exit == 1, $"exit {exit}: {stderr}");
        await broker.Runner.WaitForOutputAsync("failed: client certificate 'CN=intruder' refused", PeerTimeout);
    }
}
