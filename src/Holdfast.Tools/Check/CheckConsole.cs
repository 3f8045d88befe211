using System.Globalization;
using Spectre.Console;

namespace Holdfast.Tools.Check;

/// <summary>A moment of a run, for the progress view.</summary>
internal sealed record CheckProgress(string Phase, TimeSpan Elapsed, long Published, long Acknowledged, long Received, long Missing,
    FaultCounts Faults, int Connections, int ProxiedConnections);

/// <summary>Everything `check` shows a person: the progress while it runs and the report at the end.</summary>
internal sealed class CheckConsole
{
    private readonly IAnsiConsole _console;
    private readonly bool _live;
    private readonly bool _quiet;

    /// <param name="reportToStderr">JSON goes to stdout, so the table goes to stderr.</param>
    public CheckConsole(bool quiet, bool reportToStderr)
    {
        _quiet = quiet;
        _console = reportToStderr ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }) : AnsiConsole.Console;
        // A live table redraws in place, which only a terminal can show; a log or a pipe gets a line every few seconds.
        _live = !quiet && !reportToStderr && !Console.IsOutputRedirected && _console.Profile.Capabilities.Interactive;
        // Into a log or a pipe Spectre assumes 80 columns and wraps the report's sentences mid-line; logs have room.
        if (Console.IsOutputRedirected) _console.Profile.Width = 160;
    }

    public void Info(string text)
    {
        if (!_quiet) Console.Error.WriteLine($"check: {text}");
    }

    /// <summary>Shows progress until <paramref name="run"/> completes.</summary>
    public async Task ShowProgressAsync(Func<CheckProgress> progress, Task run)
    {
        if (_quiet)
        {
            await run;
            return;
        }
        if (!_live)
        {
            while (await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(2))) != run) Console.Error.WriteLine($"check: {Line(progress())}");
            await run;
            return;
        }
        var table = new Table().Border(TableBorder.Rounded).AddColumn("").AddColumn("");
        await _console.Live(table).StartAsync(async context =>
        {
            do
            {
                Fill(table, progress());
                context.Refresh();
            }
            while (await Task.WhenAny(run, Task.Delay(TimeSpan.FromMilliseconds(250))) != run);
            Fill(table, progress());
            context.Refresh();
        });
        await run;
    }

    private static string Line(CheckProgress p) =>
        $"{p.Elapsed.TotalSeconds,5:0.0} s {p.Phase}: published {p.Published}, acknowledged {p.Acknowledged}, received {p.Received}, "
        + $"awaited {p.Missing}, cuts {p.Faults.Cuts}, stalls {p.Faults.Stalls}, restarts {p.Faults.Restarts}, connections {p.Connections}";

    private static void Fill(Table table, CheckProgress p)
    {
        table.Rows.Clear();
        table.AddRow("phase", $"{Markup.Escape(p.Phase)} ({p.Elapsed.TotalSeconds:0.0} s)");
        table.AddRow("published", N(p.Published));
        table.AddRow("acknowledged", N(p.Acknowledged));
        table.AddRow("received (all subscribers)", N(p.Received));
        table.AddRow("acknowledged, not yet received", N(p.Missing));
        table.AddRow("faults", $"{p.Faults.Cuts} cuts, {p.Faults.Stalls} stalls, {p.Faults.Restarts} restarts");
        table.AddRow("connections made / open now", $"{p.Connections} / {p.ProxiedConnections}");
    }

    public void ShowReport(CheckReport report)
    {
        if (_quiet)
        {
            Console.Error.WriteLine($"check: {report.Verdict}");
            foreach (var violation in report.Violations) Console.Error.WriteLine($"  - {violation}");
            foreach (var unsettled in report.Unsettled) Console.Error.WriteLine($"  - not settled: {unsettled}");
            return;
        }
        var table = new Table().Border(TableBorder.Rounded).AddColumn("");
        foreach (var r in report.QoS) table.AddColumn(new TableColumn($"QoS {r.QoS}").RightAligned());
        void Row(string name, Func<QoSResult, string> value) => table.AddRow([name, .. report.QoS.Select(value)]);
        Row("publishers", r => r.Publishers.ToString(CultureInfo.InvariantCulture));
        Row("published", r => N(r.Published));
        Row("acknowledged by the broker", r => r.QoS == 0 ? "-" : N(r.Acknowledged));
        Row("refused (reason code ≥ 0x80)", r => r.QoS == 0 ? "-" : N(r.Refused));
        Row("unacknowledged at the end", r => r.QoS == 0 ? "-" : N(r.Unacknowledged));
        Row("expected deliveries", r => N(r.Expected));
        Row("received (distinct)", r => N(r.Received));
        Row("lost (not received by the end of the drain)", r => Bad(r.Lost, r.QoS > 0));
        Row("duplicates", r => Bad(r.Duplicates, r.QoS == 2));
        Row("out of order", r => Bad(r.OutOfOrder, r.QoS > 0));
        Row("longest lost run", r => N(r.LongestLostRun));
        Row("longest gap", r => Seconds(r.LongestGapMs));
        Row("max latency", r => Seconds(r.MaxLatencyMs));
        _console.Write(table);
        var f = report.Faults;
        _console.MarkupLine(Markup.Escape($"broker {report.Broker} ({report.Protocol}), run {report.RunId}, seed {report.Seed}: "
            + $"{report.Publishers} publishers at {report.RatePerPublisher:0.#}/s (window {report.Window}), {report.Subscribers} subscribers, "
            + $"{report.DurationSeconds:0.#} s + drain {report.DrainSeconds:0.#} s{(report.DrainComplete ? "" : " (timed out)")}"));
        _console.MarkupLine(Markup.Escape($"faults: {f.Cuts} cuts ({f.ConnectionsCut} connections), {f.Stalls} stalls ({f.ConnectionsStalled} connections), "
            + $"{f.Restarts} broker restarts; connections made: {report.PublisherConnections} by publishers, {report.SubscriberConnections} by subscribers"));
        foreach (var r in report.QoS.Where(r => r.RefusedBy.Count > 0))
            _console.MarkupLine(Markup.Escape($"QoS {r.QoS} refused: {string.Join(", ", r.RefusedBy.Select(x => $"{x.Key} × {x.Value}"))}"));
        foreach (var r in report.QoS)
            foreach (var lost in r.LostSamples)
                _console.MarkupLine(Markup.Escape($"lost: QoS {r.QoS} publisher {lost.Publisher} sequence {lost.First}"
                    + (lost.Last > lost.First ? $"..{lost.Last}" : "") + $" not received by {lost.Subscriber} by the end of the drain"));
        foreach (var sample in report.UnexpectedSamples) _console.MarkupLine(Markup.Escape($"unexpected: {sample}"));
        _console.MarkupLine(Markup.Escape($"acknowledged: {CheckReport.AcknowledgedDefinition}"));
        _console.MarkupLine(Markup.Escape(CheckReport.GapDefinition));
        switch (report.Verdict)
        {
            case CheckReport.Pass:
                _console.MarkupLine("[green]PASS[/]: every acknowledged message arrived at every subscriber, in order, QoS 2 exactly once, and none was left unacknowledged.");
                break;
            case CheckReport.Inconclusive:
                _console.MarkupLine("[yellow]INCONCLUSIVE[/]: no violation, but not everything was settled:");
                break;
            case CheckReport.Error:
                _console.MarkupLine("[red]ERROR[/]: the run did not complete; what it measured until then:");
                foreach (var error in report.Errors) _console.MarkupLine(Markup.Escape($"  - error: {error}"));
                break;
            default:
                _console.MarkupLine("[red]FAIL[/]:");
                break;
        }
        foreach (var violation in report.Violations) _console.MarkupLine(Markup.Escape($"  - {violation}"));
        foreach (var unsettled in report.Unsettled) _console.MarkupLine(Markup.Escape($"  - not settled: {unsettled}"));
    }

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Bad(long value, bool isViolation) => value > 0 && isViolation ? $"[red]{N(value)}[/]" : N(value);

    private static string Seconds(long ms) => (ms / 1000.0).ToString("0.00", CultureInfo.InvariantCulture) + " s";
}
