using System.CommandLine;
using System.Text;
using Holdfast.Server.Configuration;
using Holdfast.Server.Security;
using Holdfast.Tools;

namespace Holdfast.Cli;

/// <summary><c>holdfast passwd [-c | -D] FILE USER</c>, <c>holdfast passwd [-c] -b FILE USER PASSWORD</c> and
/// <c>holdfast passwd -U FILE</c>, as
/// mosquitto_passwd: the file it writes is Mosquitto's format (PBKDF2-SHA512 <c>$7$</c>), so Mosquitto reads it too.
/// Exit 0 done, 1 the file could not be read or written (or -D found no such user), 2 bad arguments.</summary>
internal static class PasswdCommand
{
    public static Command Create()
    {
        var create = new Option<bool>("-c") { Description = "Create a new password file, overwriting an existing one." };
        var delete = new Option<bool>("-D") { Description = "Delete the user instead of setting a password." };
        var batch = new Option<bool>("-b") { Description = "Take the password from the command line instead of asking for it." };
        var update = new Option<bool>("-U") { Description = "Hash every plain-text password in FILE (user:password lines)." };
        var arguments = new Argument<string[]>("FILE USER [PASSWORD]") { Arity = new ArgumentArity(1, 3) };
        var command = new Command("passwd", "Manage a Mosquitto-format password file (flags as mosquitto_passwd).") { create, delete, batch, update, arguments };
        command.Action = new ToolAction((parse, _) => Task.FromResult(parse.GetValue(update)
            ? HashPlainText(parse.GetValue(create) || parse.GetValue(delete) || parse.GetValue(batch), parse.GetValue(arguments)!)
            : Run(parse.GetValue(create), parse.GetValue(delete), parse.GetValue(batch), parse.GetValue(arguments)!)));
        return command;
    }

    private static int HashPlainText(bool otherFlags, string[] arguments)
    {
        if (otherFlags || arguments.Length != 1) return Usage("-U takes just the FILE");
        try
        {
            int hashed = PasswordFile.HashPlainText(arguments[0]);
            Console.Error.WriteLine($"{hashed} password(s) hashed in {arguments[0]}.");
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"Error: {e.Message}");
            return 1;
        }
    }

    private static int Run(bool create, bool delete, bool batch, string[] arguments)
    {
        if (arguments.Length < 2) return Usage("give FILE and USER");
        if (create && delete) return Usage("-c and -D cannot be used together");
        if (batch && delete) return Usage("-b and -D cannot be used together");
        if (batch != (arguments.Length == 3)) return Usage(batch ? "-b needs FILE USER PASSWORD" : "give the password with -b, or leave it out to be asked for it");
        string file = arguments[0], user = arguments[1];
        if (user.Length == 0 || user.Contains(':')) return Usage("a username cannot be empty or contain ':'");

        PasswordFile passwords;
        try
        {
            passwords = create ? PasswordFile.Empty() : PasswordFile.Load(file);
        }
        catch (ConfigException e)
        {
            Console.Error.WriteLine($"Error: {e.Message}");
            return 1;
        }
        if (delete)
        {
            if (!passwords.Remove(user)) { Console.Error.WriteLine($"Warning: user {user} not found in {file}."); return 1; }
        }
        else
        {
            string? password = batch ? arguments[2] : AskTwice();
            if (password is null) return 1;
            passwords.Set(user, password);
        }
        try
        {
            passwords.Save(file);
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"Error: cannot write {file}: {e.Message}");
            return 1;
        }
    }

    private static int Usage(string message)
    {
        Console.Error.WriteLine($"Error: {message}");
        return ToolAction.UsageError;
    }

    private static string? AskTwice()
    {
        string? first = Ask("Password: "), second = Ask("Reenter password: ");
        if (first is null || second is null) { Console.Error.WriteLine("Error: no password given."); return null; }
        if (first != second) { Console.Error.WriteLine("Error: Passwords do not match."); return null; }
        return first;
    }

    /// <summary>Without echo on a terminal; a line of standard input otherwise (scripts).</summary>
    private static string? Ask(string prompt)
    {
        Console.Error.Write(prompt);
        if (Console.IsInputRedirected) { string? line = Console.In.ReadLine(); Console.Error.WriteLine(); return line; }
        var typed = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter) break;
            if (key.Key == ConsoleKey.Backspace) { if (typed.Length > 0) typed.Length--; }
            else typed.Append(key.KeyChar);
        }
        Console.Error.WriteLine();
        return typed.ToString();
    }
}
