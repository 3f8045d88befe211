namespace Holdfast.Tools.Tests.Infrastructure;

/// <summary>The real `holdfast` command (pub, sub, check, bench) as a child process.</summary>
public static class HoldfastCli
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>Runs to completion (killed after <paramref name="timeout"/>, exit code -1).</summary>
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null) =>
        ProcessRunner.RunAsync("dotnet", [BrokerProcess.HoldfastDll, .. args], timeout ?? Timeout, stdin);

    /// <summary>Starts in the background; the test disposes it.</summary>
    public static ProcessRunner Start(IEnumerable<string> args, string? stdin = null) => ProcessRunner.Start("dotnet", [BrokerProcess.HoldfastDll, .. args], stdin);

    /// <summary>Starts with standard input left open (sub --manual-ack, pub -l).</summary>
    public static ProcessRunner StartWithInput(IEnumerable<string> args) => ProcessRunner.StartWithInput("dotnet", [BrokerProcess.HoldfastDll, .. args]);
}
