using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Holdfast.Interop.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Formatter;

namespace Holdfast.Interop.Tests.MqttNet;

/// <summary>The MQTTnet client (.NET's SslStream) against Holdfast's TLS listeners.</summary>
public sealed class MqttNetTlsTests : IDisposable
{
    private readonly TestCertificates _certificates = new();

    private string TlsListener(string extra = "") =>
        $"certfile {_certificates.ServerCertFile}\nkeyfile {_certificates.ServerKeyFile}\ncafile {_certificates.CaFile}\n{extra}";

    /// <summary>TLS trusting only the test CA, with the client certificate, limited to <paramref name="protocols"/>.</summary>
    private Action<MqttClientOptionsBuilder> Tls(SslProtocols protocols = SslProtocols.None) => builder => builder.WithTlsOptions(tls => tls
        .UseTls()
        .WithTargetHost("localhost")
        .WithCertificateValidationHandler(e => ChainsToTestCa(e.Certificate, e.Chain))
        .WithClientCertificates([X509Certificate2.CreateFromPemFile(_certificates.ClientCertFile, _certificates.ClientKeyFile)])
        .WithSslProtocols(protocols));

    /// <summary>The server's certificate (with the intermediate it sent) chains to the test CA, and to nothing else.</summary>
    private bool ChainsToTestCa(X509Certificate certificate, X509Chain sent)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.Add(X509CertificateLoader.LoadCertificateFromFile(_certificates.CaFile));
        foreach (var element in sent.ChainElements) chain.ChainPolicy.ExtraStore.Add(element.Certificate);
        return chain.Build(new X509Certificate2(certificate));
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task QoS_1_both_ways_over_TLS_with_a_client_certificate(MqttProtocolVersion version)
    {
        await using var broker = await TestBroker.StartAsync(listenerText: TlsListener("require_certificate true\n"));
        await using var subscriber = await MqttNetPeer.ConnectAsync(broker.Port, version, "tls-sub", Tls());
        await subscriber.SubscribeAsync("tls/+");
        await using var publisher = await MqttNetPeer.ConnectAsync(broker.Port, version, "tls-pub", Tls());
        for (int i = 0; i < 20; i++) await publisher.PublishAsync("tls/a", $"m{i}");
        var received = await subscriber.ReceiveAsync(20);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}"), received.Select(m => m.Text));
        Assert.All(received, m => Assert.Equal(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce, m.QoS));
    }

    [Fact]
    public async Task A_client_below_the_listeners_tls_version_is_refused_at_the_handshake()
    {
        await using var broker = await TestBroker.StartAsync(listenerText: TlsListener("tls_version tlsv1.3\n"));
        // Control: TLS 1.3 gets in.
        await using (await MqttNetPeer.ConnectAsync(broker.Port, MqttProtocolVersion.V500, "tls13", Tls(SslProtocols.Tls13))) { }

        var client = new MqttClientFactory().CreateMqttClient();
        var options = MqttNetPeer.Options(broker.Port, MqttProtocolVersion.V500, "tls12");
        Tls(SslProtocols.Tls12)(options);
        await Assert.ThrowsAnyAsync<Exception>(() => client.ConnectAsync(options.Build()));
        client.Dispose();
        await broker.Log.WaitForAsync("failed: TLS handshake failed: ");
        Assert.DoesNotContain(broker.Log.Lines, l => l.Contains("as tls12 "));
    }

    public void Dispose() => _certificates.Dispose();
}
