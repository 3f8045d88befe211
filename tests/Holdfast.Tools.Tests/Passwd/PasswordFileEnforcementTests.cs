using Holdfast.Tools.Tests.Infrastructure;

namespace Holdfast.Tools.Tests.Passwd;

/// <summary>`holdfast serve` with a password_file written by Debian's mosquitto_passwd: the users in it get in with their
/// passwords and nobody else does, as with Mosquitto 2.</summary>
public sealed class PasswordFileEnforcementTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("holdfast-pwfile-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }

    private async Task<string> MosquittoPasswordFileAsync()
    {
        string file = Path.Combine(_directory, "passwords");
        var made = await ProcessRunner.RunAsync(DebianTool.Require("mosquitto_passwd"), ["-c", "-b", file, "alice", "secret"], TimeSpan.FromSeconds(20));
        Assert.True(made.ExitCode == 0, made.Stderr);
        return file;
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> PubAsync(BrokerProcess broker, string version, params string[] credentials) =>
        HoldfastCli.RunAsync(["pub", "-h", "127.0.0.1", "-p", broker.Port.ToString(), "-V", version, "-t", "a", "-m", "x", .. credentials]);

    [SkippableTheory]
    // As Mosquitto: a wrong password and an anonymous client are both "not authorised" (0x87, 3.1.1: 5).
    [InlineData("mqttv5", 135, 135)]
    [InlineData("mqttv311", 5, 5)]
    public async Task Only_the_users_in_the_file_get_in_with_their_passwords(string version, int badPassword, int anonymous)
    {
        string file = await MosquittoPasswordFileAsync();
        await using var broker = await BrokerProcess.StartHoldfastAsync($"allow_anonymous false\npassword_file {file}");

        var good = await PubAsync(broker, version, "-u", "alice", "-P", "secret");
        Assert.True(good.ExitCode == 0, good.Stderr);
        var wrong = await PubAsync(broker, version, "-u", "alice", "-P", "Secret");
        Assert.True(wrong.ExitCode == badPassword, $"exit {wrong.ExitCode}: {wrong.Stderr}");
        var stranger = await PubAsync(broker, version, "-u", "mallory", "-P", "secret");
        Assert.True(stranger.ExitCode == badPassword, $"exit {stranger.ExitCode}: {stranger.Stderr}");
        var nobody = await PubAsync(broker, version);
        Assert.True(nobody.ExitCode == anonymous, $"exit {nobody.ExitCode}: {nobody.Stderr}");

        // And Debian's own client, for good measure.
        var mosquittoPub = await ProcessRunner.RunAsync(DebianTool.Require("mosquitto_pub"),
            ["-h", "127.0.0.1", "-p", broker.Port.ToString(), "-t", "a", "-m", "x", "-u", "alice", "-P", "secret"], TimeSpan.FromSeconds(20));
        Assert.True(mosquittoPub.ExitCode == 0, mosquittoPub.Stderr);
    }

    [SkippableFact]
    public async Task With_allow_anonymous_true_anonymous_clients_get_in_but_a_wrong_password_does_not()
    {
        string file = await MosquittoPasswordFileAsync();
        await using var broker = await BrokerProcess.StartHoldfastAsync($"allow_anonymous true\npassword_file {file}");
        Assert.Equal(0, (await PubAsync(broker, "mqttv5")).ExitCode);
        Assert.Equal(135, (await PubAsync(broker, "mqttv5", "-u", "alice", "-P", "nope")).ExitCode);
    }

    [Theory]
    [InlineData("alice:plaintext\n", "passwords:1: the password of 'alice' is not a $7$ or $6$ hash")]
    [InlineData(null, "password_file: cannot read")]
    public async Task A_bad_or_missing_password_file_stops_startup_naming_where(string? content, string expected)
    {
        string file = Path.Combine(_directory, "passwords");
        if (content is not null) await File.WriteAllTextAsync(file, content);
        string config = Path.Combine(_directory, "holdfast.conf");
        await File.WriteAllTextAsync(config, $"listener 1883 127.0.0.1\npassword_file {file}\n");
        var (exit, stdout, stderr) = await HoldfastCli.RunAsync(["serve", "-c", config, "-p", "0"]);
        Assert.True(exit == 3, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains(expected, stderr);
        if (content is null) Assert.Contains($"{config}:2:", stderr);
    }
}
