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
        info.Environment["HOLDFAST_DLL"] = BrokerProcess.HoldfastDll;
        info.Environment["ROUNDS"] = "1";
        info.Environment["DURATION"] = "1";
        info.Environment["WARMUP"] = "0.5";
        // The second scenario turns Holdfast's durable store on for itself only (Mosquitto stays in memory).
        info.Environment["SCENARIOS"] = "fan-in q1 2->1 | fan-in -q 1 --publishers 2\n"
            + "durable | fan-in -q 1 --publishers 2 --session-expiry 60 | persistence true; durability sync";
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
        // A run is "warned" when the generator and the broker together saturate the machine, which a loaded 2-core machine
        // decides, not the script: the cell then reads "n=1 (1 warned)".
        const string Runs = @"n=1(?: \(1 warned\))? / n=1(?: \(1 warned\))?";
        Assert.Matches(@"\| fan-in q1 2->1 \| " + Runs + @" \| [\d,]+ / [\d,]+ / [\d.]+× \| closed loop: ", output);
        Assert.Matches(@"\| durable \| " + Runs + @" \| [\d,]+ / [\d,]+ / [\d.]+× \| closed loop: ", output);
        Assert.Contains("Holdfast only, for 'durable': persistence true; durability sync", output);
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
        info.Environment["HOLDFAST_DLL"] = BrokerProcess.HoldfastDll;
        info.Environment["SCENARIOS"] = scenarios;
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(2, process.ExitCode);
        Assert.Contains(message, stderr);
        Assert.Equal("", await stdout);
    }

    [SkippableFact]
    public async Task Sigterm_ends_the_script_and_its_bench_at_once()
    {
        DebianTool.Require("mosquitto");
        var info = new System.Diagnostics.ProcessStartInfo("bash", [Path.Combine(RepositoryRoot(), "bench", "compare.sh")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["HOLDFAST_DLL"] = BrokerProcess.HoldfastDll;
        info.Environment["ROUNDS"] = "1";
        info.Environment["DURATION"] = "120";   // a run that would outlast the test by far
        info.Environment["SCENARIOS"] = "fan-in q0 | fan-in -q 0 --publishers 1 --rate 100";
        using var script = System.Diagnostics.Process.Start(info)!;
        var stdout = script.StandardOutput.ReadToEndAsync();
        var stderr = script.StandardError.ReadToEndAsync();
        try
        {
            int bench = await ChildAsync(script.Id, "bench", TimeSpan.FromSeconds(60));
            using (var term = System.Diagnostics.Process.Start("kill", ["-TERM", script.Id.ToString()])) await term.WaitForExitAsync();

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await script.WaitForExitAsync(timeout.Token);
            Assert.Equal(130, script.ExitCode);
            // Killed by the script's cleanup, so gone (or a zombie until its new parent reaps it) within moments.
            for (int i = 0; i < 100 && IsRunning(bench); i++) await Task.Delay(50);
            Assert.False(IsRunning(bench), $"bench {bench} still runs\n{await stdout}\n{await stderr}");
        }
        finally
        {
            if (!script.HasExited) script.Kill(entireProcessTree: true);
        }
    }

    /// <summary>The pid of <paramref name="parent"/>'s child whose command line contains <paramref name="word"/>, once there is one.</summary>
    private static async Task<int> ChildAsync(int parent, string word, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            string children = "";
            try { children = await File.ReadAllTextAsync($"/proc/{parent}/task/{parent}/children"); } catch (IOException) { }
            foreach (var pid in children.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse))
            {
                string commandLine = "";
                try { commandLine = (await File.ReadAllTextAsync($"/proc/{pid}/cmdline")).Replace('\0', ' '); } catch (IOException) { }
                if (commandLine.Contains($" {word} ", StringComparison.Ordinal)) return pid;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"no child of {parent} running {word}");
    }

    private static bool IsRunning(int pid)
    {
        try { return !File.ReadAllText($"/proc/{pid}/stat").Split(')')[1].TrimStart().StartsWith('Z'); }
        catch (IOException) { return false; }
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "bench", "compare.sh"))) return dir.FullName;
        throw new InvalidOperationException("bench/compare.sh not found above " + AppContext.BaseDirectory);
    }
}
