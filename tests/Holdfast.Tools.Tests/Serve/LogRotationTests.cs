using Holdfast.Tools.Tests.Infrastructure;

namespace Holdfast.Tools.Tests.Serve;

/// <summary>logrotate's way with Mosquitto, kept for Holdfast: move the log file away, send SIGHUP, and the broker
/// writes a new file at the configured path.</summary>
public sealed class LogRotationTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("holdfast-logrotate-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }

    [SkippableFact]
    public async Task SIGHUP_reopens_a_log_file_that_was_moved_away()
    {
        string log = Path.Combine(_directory, "holdfast.log"), rotated = log + ".1";
        await using var broker = await BrokerProcess.StartHoldfastAsync($"log_dest file {log}\npersistence false");
        Assert.Contains("running", await File.ReadAllTextAsync(log));

        File.Move(log, rotated);
        broker.Runner.Signal(1);
        await broker.Runner.WaitForOutputAsync("Password and ACL files reloaded", Timeout);
        var (exit, _, stderr) = await ProcessRunner.RunAsync(DebianTool.Require("mosquitto_pub"),
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(), "-i", "after-rotation", "-t", "t", "-m", "1"], Timeout);
        Assert.True(exit == 0, stderr);
        await broker.Runner.WaitForOutputAsync("as after-rotation", Timeout);

        Assert.True(File.Exists(log), "no new log file after SIGHUP");
        Assert.Contains("as after-rotation", await File.ReadAllTextAsync(log));
        Assert.DoesNotContain("as after-rotation", await File.ReadAllTextAsync(rotated));
    }
}
