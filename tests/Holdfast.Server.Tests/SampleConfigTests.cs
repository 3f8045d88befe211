using System.Text.RegularExpressions;
using Holdfast.Server.Configuration;

namespace Holdfast.Server.Tests;

/// <summary>config/holdfast.conf documents every directive: it must name each one the parser knows, and parse
/// when every switched-off directive is switched on.</summary>
public partial class SampleConfigTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "SampleConfig");

    // A switched-off directive is `#key ...` with no space after the `#`; prose comments are `# ...`.
    [GeneratedRegex(@"^#([a-z_0-9]+)(\s|$)")]
    private static partial Regex SwitchedOff();

    [GeneratedRegex("""case "([a-z_0-9]+)":""")]
    private static partial Regex DirectiveCase();

    private static string[] SampleLines => File.ReadAllLines(Path.Combine(Folder, "holdfast.conf"));

    [Fact]
    public void Sample_names_every_directive_the_parser_knows()
    {
        var documented = SampleLines.Select(l => SwitchedOff().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value).ToHashSet();
        // log_dest's own values (stdout, file …) are cases too; only lower-case keys inside Apply's switch are directives.
        var source = File.ReadAllText(Path.Combine(Folder, "ConfigBuilder.cs.txt"));
        var applyBody = source[source.IndexOf("public void Apply(", StringComparison.Ordinal)..source.IndexOf("public HoldfastConfig Build(", StringComparison.Ordinal)];
        var known = DirectiveCase().Matches(applyBody).Select(m => m.Groups[1].Value).Append("include_dir").ToHashSet();

        Assert.Empty(known.Except(documented).Order());
        Assert.Empty(documented.Except(known).Order());
    }

    [Fact]
    public void Sample_parses_with_every_directive_switched_on()
    {
        // include_dir would need its directory to exist; it is covered by IncludeDirTests.
        var text = string.Join('\n', SampleLines.Select(l =>
            SwitchedOff().IsMatch(l) && !l.StartsWith("#include_dir", StringComparison.Ordinal) ? l[1..] : l));
        var config = ConfigParser.Parse(text, "holdfast.conf");
        Assert.Equal(2, config.Listeners.Count);
    }
}
