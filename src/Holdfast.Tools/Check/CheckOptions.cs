using Holdfast.Protocol;

namespace Holdfast.Tools.Check;

/// <summary>Everything one `holdfast check` run is told on its command line, validated.</summary>
internal sealed class CheckOptions
{
    public string Host { get; init; } = "localhost";
    public int Port { get; init; } = 1883;
    public ProtocolVersion Version { get; init; } = ProtocolVersion.V500;
    public string? UserName { get; init; }
    public string? Password { get; init; }
    public int Publishers { get; init; } = 4;
    public int Subscribers { get; init; } = 2;
    /// <summary>The QoS levels publishers are spread over, round robin (publisher N uses QoS[N % count]).</summary>
    public IReadOnlyList<QualityOfService> QoS { get; init; } = [QualityOfService.AtLeastOnce, QualityOfService.ExactlyOnce];
    /// <summary>Messages per second per publisher.</summary>
    public double Rate { get; init; } = 50;
    /// <summary>Most QoS 1/2 messages a publisher has unacknowledged at once (also capped by the broker's Receive Maximum).</summary>
    public int Window { get; init; } = 10;
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Mean time between connection cuts; zero turns them off.</summary>
    public TimeSpan CutEvery { get; init; }
    public TimeSpan StallEvery { get; init; }
    /// <summary>Mean length of a stall (each is drawn between 0 and twice this).</summary>
    public TimeSpan StallFor { get; init; } = TimeSpan.FromSeconds(2);
    public TimeSpan RestartEvery { get; init; }
    /// <summary>A shell command that runs the broker; check owns that process and SIGKILLs its process group.</summary>
    public string? BrokerCommand { get; init; }
    /// <summary>A shell command that kills and restarts a broker check does not own.</summary>
    public string? RestartCommand { get; init; }
    /// <summary>Client keep-alive in seconds: a stall longer than 1.5 times this ends the connection.</summary>
    public ushort KeepAlive { get; init; } = 5;
    public int Seed { get; init; }
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Null: no JSON; "-": JSON on stdout; else a file.</summary>
    public string? Json { get; init; }
    public bool Quiet { get; init; }

    public QualityOfService QoSOf(int publisher) => QoS[publisher % QoS.Count];
}
