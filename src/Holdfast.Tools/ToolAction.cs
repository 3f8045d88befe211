using System.CommandLine;
using System.CommandLine.Invocation;

namespace Holdfast.Tools;

/// <summary>The action of a client tool (pub, sub, bench): a flag the parser rejects exits 2 with the reason, like every
/// other usage error, instead of System.CommandLine's 1, which these tools use for "the broker refused or went away".</summary>
public sealed class ToolAction(Func<ParseResult, CancellationToken, Task<int>> run) : AsynchronousCommandLineAction
{
    public const int UsageError = 2;

    public override bool ClearsParseErrors => true;

    public override async Task<int> InvokeAsync(ParseResult parseResult, CancellationToken cancellationToken = default)
    {
        // Unmatched tokens are checked by hand: taking over the parse errors also takes over reporting them.
        if (parseResult.Errors.Count > 0 || parseResult.UnmatchedTokens.Count > 0)
        {
            foreach (var error in parseResult.Errors) Console.Error.WriteLine($"Error: {error.Message}");
            foreach (var token in parseResult.UnmatchedTokens) Console.Error.WriteLine($"Error: unknown option or argument '{token}'");
            return UsageError;
        }
        return await run(parseResult, cancellationToken);
    }
}
