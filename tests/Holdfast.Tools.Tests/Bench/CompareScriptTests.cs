using Holdfast.Interop.Tests.Infrastructure;
using Holdfast.Tools.Tests.Infrastructure;

namespace Holdfast.Tools.Tests.Bench;

public class CompareScriptTests
{
    [SkippableFact]
    public async Task Compare_prints_both_brokers_and_their_ratio()
    {
        DebianTool.Require("mosquitto");
        string script = Path.Combine(RepositoryRoot(), "bench", "compare.sh");
        var info = new System.Diagnostics.ProcessStartInfo("bash", [script])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // The test's own build of holdfast (no Release build here), one scenario, one short round.
        info.Environment["HOLDFAST_DLL"] = HoldfastCli.Dll;
        info.Environment["ROUNDS"] = "1";
        info.Environment["DURATION"] = "1";
        info.Environment["WARMUP"] = "0.5";
        info.Environment["SCENARIOS"] = "fan-in q1 2->1 | fan-in -q 1 --publishers 2";
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException) { process.Kill(entireProcessTree: true); throw; }

        string output = await stdout;
        Assert.True(process.ExitCode == 0, output + await stderr);
        Assert.Matches(@"round 1  fan-in q1 2->1 +holdfast +[\d,]+ msg/s", output);
        Assert.Matches(@"round 1  fan-in q1 2->1 +mosquitto +[\d,]+ msg/s", output);
        Assert.Matches(@"\| fan-in q1 2->1 \| n=1 / n=1 \| [\d,]+ / [\d,]+ / [\d.]+× \| closed loop: ", output);
        Assert.Contains("machine: ", output);
    }

    [Theory]
    [InlineData("fan-in q1 | fan-in -q 1\nno bar here", "needs 'label | bench arguments': no bar here")]
    [InlineData("\n  \n", "SCENARIOS has no scenario")]
    public async Task Bad_scenarios_are_refused_before_any_broker_starts(string scenarios, string message)
    {
        var info = new System.Diagnostics.ProcessStartInfo("bash", [Path.Combine(RepositoryRoot(), "bench", "compare.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["HOLDFAST_DLL"] = HoldfastCli.Dll;
        info.Environment["SCENARIOS"] = scenarios;
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(2, process.ExitCode);
        Assert.Contains(message, stderr);
        Assert.Equal("", await stdout);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "bench", "compare.sh"))) return dir.FullName;
        throw new InvalidOperationException("bench/compare.sh not found above " + AppContext.BaseDirectory);
    }
}
