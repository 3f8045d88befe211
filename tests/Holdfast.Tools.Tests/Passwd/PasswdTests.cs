using System.Security.Cryptography;
using System.Text;
using Holdfast.Server.Configuration;
using Holdfast.Server.Security;
using Holdfast.Tools.Tests.Infrastructure;

namespace Holdfast.Tools.Tests.Passwd;

/// <summary>holdfast passwd and the password-file format, both ways with Debian's mosquitto_passwd and Mosquitto.</summary>
public sealed class PasswdTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("holdfast-passwd-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }

    private string PathOf(string name) => Path.Combine(_directory, name);

    private static async Task PasswdAsync(params string[] args)
    {
        var (exit, stdout, stderr) = await HoldfastCli.RunAsync(["passwd", .. args]);
        Assert.True(exit == 0, $"holdfast passwd {string.Join(' ', args)} exited {exit}\n{stdout}\n{stderr}");
    }

    [SkippableFact]
    public async Task A_file_written_by_holdfast_passwd_lets_Mosquitto_authenticate_its_users()
    {
        string file = PathOf("passwords");
        await PasswdAsync("-c", "-b", file, "alice", "s3cret: with spaces");
        await PasswdAsync("-b", file, "bob", "other");
        await using var broker = await BrokerProcess.StartMosquittoAsync($"allow_anonymous false\npassword_file {file}\n");
        string pub = DebianTool.Require("mosquitto_pub");
        string[] target = ["-h", "127.0.0.1", "-p", broker.Port.ToString(), "-t", "a", "-m", "x", "-V", "mqttv311"];

        var good = await ProcessRunner.RunAsync(pub, [.. target, "-u", "alice", "-P", "s3cret: with spaces"], TimeSpan.FromSeconds(20));
        Assert.True(good.ExitCode == 0, good.Stderr);
        var bob = await ProcessRunner.RunAsync(pub, [.. target, "-u", "bob", "-P", "other"], TimeSpan.FromSeconds(20));
        Assert.True(bob.ExitCode == 0, bob.Stderr);
        var wrong = await ProcessRunner.RunAsync(pub, [.. target, "-u", "alice", "-P", "guess"], TimeSpan.FromSeconds(20));
        Assert.NotEqual(0, wrong.ExitCode);
    }

    [SkippableFact]
    public async Task A_file_written_by_mosquitto_passwd_loads_and_verifies()
    {
        string file = PathOf("from-mosquitto");
        string tool = DebianTool.Require("mosquitto_passwd");
        var created = await ProcessRunner.RunAsync(tool, ["-c", "-b", file, "alice", "secret"], TimeSpan.FromSeconds(20));
        Assert.True(created.ExitCode == 0, created.Stderr);
        var added = await ProcessRunner.RunAsync(tool, ["-b", file, "bob", "p:w d"], TimeSpan.FromSeconds(20));
        Assert.True(added.ExitCode == 0, added.Stderr);

        var passwords = PasswordFile.Load(file);
        Assert.Equal(["alice", "bob"], passwords.Users);
        Assert.True(passwords.Verify("alice", "secret"u8));
        Assert.True(passwords.Verify("bob", "p:w d"u8));
        Assert.False(passwords.Verify("alice", "Secret"u8));
        Assert.False(passwords.Verify("carol", "secret"u8));

        // holdfast passwd edits such a file in place: bob's password changes, alice's line is untouched.
        string aliceLine = File.ReadAllLines(file)[0];
        await PasswdAsync("-b", file, "bob", "new");
        Assert.Equal(aliceLine, File.ReadAllLines(file)[0]);
        Assert.True(PasswordFile.Load(file).Verify("bob", "new"u8));
        await PasswdAsync("-D", file, "alice");
        Assert.Equal(["bob"], PasswordFile.Load(file).Users);
    }

    [Fact]
    public void The_older_sha512_format_verifies_too()
    {
        byte[] salt = RandomNumberGenerator.GetBytes(12);
        byte[] hash = SHA512.HashData([.. "legacy"u8, .. salt]);
        string file = PathOf("legacy");
        File.WriteAllText(file, $"old:$6${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}\n");
        var passwords = PasswordFile.Load(file);
        Assert.True(passwords.Verify("old", "legacy"u8));
        Assert.False(passwords.Verify("old", "legacY"u8));
    }

    [Theory]
    [InlineData("alice:plaintext\n", 1, "is not a $7$ or $6$ hash")]
    [InlineData("# users\n\nno-colon-here\n", 3, "expected 'username:hash'")]
    [InlineData("alice:$7$101$AAAA$AAAA\nalice:$7$101$AAAA$AAAA\n", 2, "appears twice")]
    [InlineData("bob:$7$many$AAAA$AAAA\n", 1, "is not a $7$ or $6$ hash")]
    public void A_bad_line_is_named_with_its_file_and_number(string content, int line, string reason)
    {
        string file = PathOf("bad");
        File.WriteAllText(file, content, Encoding.UTF8);
        var error = Assert.Throws<ConfigException>(() => PasswordFile.Load(file));
        Assert.Equal(line, error.Line);
        Assert.Contains(reason, error.Message);
        Assert.Contains(file, error.Message);
    }

    [Theory]
    [InlineData("-c -D f u", "-c and -D cannot be used together")]
    [InlineData("-b f u", "-b needs FILE USER PASSWORD")]
    [InlineData("f u pw", "give the password with -b")]
    [InlineData("-b f a:b pw", "cannot be empty or contain ':'")]
    [InlineData("-U f u", "-U takes just the FILE")]
    [InlineData("f", "give FILE and USER")]
    public async Task Bad_arguments_exit_2_with_the_reason(string args, string message)
    {
        var (exit, _, stderr) = await HoldfastCli.RunAsync(["passwd", .. args.Split(' ')]);
        Assert.Equal(2, exit);
        Assert.Contains(message, stderr);
    }

    [Fact]
    public async Task Deleting_a_user_who_is_not_there_is_an_error()
    {
        string file = PathOf("one");
        await PasswdAsync("-c", "-b", file, "alice", "x");
        var (exit, _, stderr) = await HoldfastCli.RunAsync(["passwd", "-D", file, "nobody"]);
        Assert.Equal(1, exit);
        Assert.Contains("user nobody not found", stderr);
        Assert.Equal(["alice"], PasswordFile.Load(file).Users);
    }

    [Fact]
    public async Task U_hashes_plain_text_passwords_and_leaves_hashed_lines_alone()
    {
        string file = PathOf("plain");
        string hashed = $"carol:{PasswordFile.Hash("kept")}";
        File.WriteAllText(file, $"# site users\nalice:first\n{hashed}\nbob:sec:ond\n");
        await PasswdAsync("-U", file);
        string[] lines = File.ReadAllLines(file);
        Assert.Equal("# site users", lines[0]);
        Assert.Equal(hashed, lines[2]);
        var passwords = PasswordFile.Load(file);
        Assert.True(passwords.Verify("alice", "first"u8));
        Assert.True(passwords.Verify("bob", "sec:ond"u8));
        Assert.True(passwords.Verify("carol", "kept"u8));
    }
}
