using Holdfast.Protocol;

namespace Holdfast.Tools.Bench;

/// <summary>One benchmark run as the command line describes it.</summary>
internal sealed record BenchSettings
{
    public required string Scenario { get; init; }
    public string Host { get; init; } = "localhost";
    public int Port { get; init; } = 1883;
    public ProtocolVersion Version { get; init; } = ProtocolVersion.V500;
    public QualityOfService QoS { get; init; }
    public int PayloadSize { get; init; } = 64;
    public int Publishers { get; init; } = 8;
    public int Subscribers { get; init; } = 50;
    public int Pairs { get; init; } = 100;
    public int Connections { get; init; } = 10_000;
    /// <summary>Messages per second over all publishers; 0: as fast as the window allows.</summary>
    public double Rate { get; init; }
    /// <summary>Messages each publisher may have in flight: sent and not yet acknowledged (QoS 1/2) or not yet received by
    /// every subscriber that should get it (any QoS).</summary>
    public int Window { get; init; } = 256;
    /// <summary>256, except at QoS 1/2 over MQTT 3.1.1: no Receive Maximum tells us what the broker takes there, so the
    /// default is what Mosquitto takes by default (max_inflight_messages 20); more gets the connection closed.</summary>
    public static int DefaultWindow(ProtocolVersion version, QualityOfService qos) =>
        version == ProtocolVersion.V311 && qos != QualityOfService.AtMostOnce ? 20 : 256;

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(2);
    public ushort KeepAlive { get; init; } = 60;
    /// <summary>The subscribers' Session Expiry Interval (MQTT 5): above 0 their sessions are persistent, so a broker with a
    /// durable store must keep what it routes to them before acknowledging it. They still start clean.</summary>
    public uint SessionExpiry { get; init; }
    public int? BrokerPid { get; init; }
    public string? UserName { get; init; }
    public string? Password { get; init; }

    /// <summary>What is wrong with these settings, or null.</summary>
    public string? Problem() => this switch
    {
        { PayloadSize: < BenchPayload.MinimumSize } => $"the payload must be at least {BenchPayload.MinimumSize} bytes (sequence, publisher, timestamp)",
        { PayloadSize: > 256 * 1024 * 1024 } => "the payload is larger than MQTT allows",
        { Window: < 1 or > 65535 } => "the window must be 1 to 65535",
        { Rate: < 0 } => "the rate must be 0 (unlimited) or more",
        { Duration.TotalSeconds: <= 0 } => "the duration must be more than 0 s",
        { Warmup.TotalSeconds: < 0 } => "the warm-up must not be negative",
        { Scenario: "fan-in", Publishers: < 1 } => "fan-in needs at least 1 publisher",
        { Scenario: "fan-out", Subscribers: < 1 } => "fan-out needs at least 1 subscriber",
        { Scenario: "pairs", Pairs: < 1 } => "pairs needs at least 1 pair",
        { SessionExpiry: > 0, Version: not ProtocolVersion.V500 } => "--session-expiry needs MQTT 5 (-V mqttv5)",
        { SessionExpiry: > 0, Scenario: "connections" } => "--session-expiry is for the subscribers of fan-in, fan-out and pairs",
        { Scenario: "connections", Connections: < 2 } => "connections needs at least 2 connections (the first half at most are the baseline)",
        _ => null,
    };
}
