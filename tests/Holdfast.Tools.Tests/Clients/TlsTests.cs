using Holdfast.Tools.Tests.Infrastructure;
using static Holdfast.Tools.Tests.Clients.ClientTools;

namespace Holdfast.Tools.Tests.Clients;

/// <summary>pub and sub over TLS, against Debian's Mosquitto with certificates the test makes (Holdfast's own TLS
/// listeners come with the security work).</summary>
public class TlsTests
{
    private static string TlsListener(TestCertificates certificates, bool requireCertificate) =>
        $"cafile {certificates.CaFile}\ncertfile {certificates.ServerCertFile}\nkeyfile {certificates.ServerKeyFile}\n"
        + (requireCertificate ? "require_certificate true\n" : "");

    [SkippableFact]
    public async Task Pub_and_sub_talk_over_TLS_with_a_private_CA()
    {
        using var certificates = new TestCertificates();
        await using var broker = await BrokerProcess.StartMosquittoAsync(TlsListener(certificates, requireCertificate: false));
        string topic = Unique("tls");
        await using var sub = await StartSubAsync(broker, "--cafile", certificates.CaFile, "-t", topic, "-q", "1", "-C", "1");
        await PubAsync(broker, ["--cafile", certificates.CaFile, "-t", topic, "-q", "1", "-m", "sealed"]);
        Assert.Equal(["sealed"], await LinesAfterExitAsync(sub));
    }

    [SkippableFact]
    public async Task A_client_certificate_gets_in_where_the_broker_requires_one()
    {
        using var certificates = new TestCertificates();
        await using var broker = await BrokerProcess.StartMosquittoAsync(TlsListener(certificates, requireCertificate: true));
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

    [SkippableFact]
    public async Task A_server_certificate_from_another_CA_is_refused()
    {
        using var certificates = new TestCertificates();
        await using var broker = await BrokerProcess.StartMosquittoAsync(TlsListener(certificates, requireCertificate: false));
        var (exit, _, stderr) = await HoldfastCli.RunAsync(["pub", "-h", "127.0.0.1", "-p", broker.Port.ToString(),
            "--cafile", certificates.OtherCaFile(), "-t", "a", "-m", "x"]);
        Assert.True(exit == 1, $"exit {exit}: {stderr}");
        Assert.Contains("Connection error", stderr);
    }
}
