using Holdfast.Interop.Tests.Infrastructure;

namespace Holdfast.Interop.Tests.Durability;

/// <summary>
/// plfs (tools/plfs), the power-loss FUSE filesystem, built from the repository's copy and mounted on a scratch directory
/// with <c>meta=strict</c>: a file's data survives a <see cref="CutAsync"/> only if it was fsync'd, a directory entry only
/// if its directory was. A SIGKILL test cannot show this: the page cache survives a killed process. Needs fuse3,
/// libfuse3-dev, pkg-config, gcc, make and /dev/fuse (root): without them the test fails in CI and skips elsewhere.
/// </summary>
public sealed class PlfsMount : IAsyncDisposable
{
    private const string Packages = "fuse3 libfuse3-dev pkg-config gcc make";

    private readonly string _scratch;
    private readonly ProcessRunner _plfs;

    private PlfsMount(string scratch, ProcessRunner plfs)
    {
        _scratch = scratch;
        _plfs = plfs;
    }

    /// <summary>The mount point.</summary>
    public string Path => System.IO.Path.Combine(_scratch, "mnt");

    private string ControlFile => System.IO.Path.Combine(Path, ".plfs-ctl");

    /// <summary>plfs's own messages (each cut's report is also printed there).</summary>
    public string Log => _plfs.Stdout + _plfs.Stderr;

    /// <summary>Builds plfs with <c>make OUT=scratch</c> and mounts it. <paramref name="fsyncDelayUs"/> makes each fsync
    /// take that long, like a real disk, so that a cut often lands while a written batch is not yet durable.</summary>
    public static async Task<PlfsMount> MountAsync(int fsyncDelayUs)
    {
        foreach (var tool in new[] { "make", "cc", "pkg-config", "fusermount3" }) DebianTool.Require(tool, Packages);
        if (ProcessRunner.Run("pkg-config", ["--exists", "fuse3"], TimeSpan.FromSeconds(20)).ExitCode != 0)
            DebianTool.Unavailable($"libfuse3-dev is not installed: pkg-config finds no fuse3 (apt-get install -y {Packages})");
        if (!File.Exists("/dev/fuse")) DebianTool.Unavailable("/dev/fuse is missing (a container needs --device /dev/fuse)");

        string scratch = Directory.CreateTempSubdirectory("holdfast-plfs-").FullName;
        try
        {
            var build = await ProcessRunner.RunAsync("make", ["-s", "-C", SourceDirectory(), $"OUT={scratch}"], TimeSpan.FromSeconds(120));
            if (build.ExitCode != 0) throw new InvalidOperationException($"building plfs failed ({build.ExitCode}):\n{build.Stdout}{build.Stderr}");
            Directory.CreateDirectory(System.IO.Path.Combine(scratch, "mnt"));
            var plfs = ProcessRunner.Start(System.IO.Path.Combine(scratch, "plfs"),
                [System.IO.Path.Combine(scratch, "mnt"), "-f", "-o", "meta=strict", "-o", "allow_other", "-o", $"fsync_delay_us={fsyncDelayUs}"]);
            var mount = new PlfsMount(scratch, plfs);
            try
            {
                // Before the mount the directory is empty; once mounted, plfs answers for its control file.
                await Waits.UntilAsync(() => File.Exists(mount.ControlFile) || plfs.HasExited, "plfs to mount");
                if (plfs.HasExited) DebianTool.Unavailable($"plfs could not mount (root and /dev/fuse are needed): {mount.Log}");
            }
            catch
            {
                await mount.DisposeAsync();
                throw;
            }
            return mount;
        }
        catch
        {
            TryDelete(scratch);
            throw;
        }
    }

    /// <summary>The power fails: nothing becomes durable any more, and an fsync under way or started later does not
    /// return, so the broker cannot acknowledge anything on the strength of it.</summary>
    public void Freeze() => Control("freeze");

    /// <summary>Drops everything not durable (after <see cref="Freeze"/> and a SIGKILL), and the power is back. plfs waits
    /// (up to 5 s) for the killed process's files to close first. Returns plfs's report of what it dropped.</summary>
    public Task<string> CutAsync() => Task.Run(() => Control("cut"));

    private string Control(string word)
    {
        File.WriteAllText(ControlFile, word);
        return File.ReadAllText(ControlFile);
    }

    private static string SourceDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string source = System.IO.Path.Combine(dir.FullName, "tools", "plfs");
            if (File.Exists(System.IO.Path.Combine(source, "plfs.c"))) return source;
        }
        throw new InvalidOperationException("tools/plfs/plfs.c not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Unmounts (lazily if something still holds the mount), stops plfs by its process id, deletes the scratch directory.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_plfs.HasExited && File.Exists(ControlFile))
        {
            if ((await ProcessRunner.RunAsync("fusermount3", ["-u", Path], Waits.Event)).ExitCode != 0)
                await ProcessRunner.RunAsync("fusermount3", ["-u", "-z", Path], Waits.Event);
            await _plfs.WaitForExitAsync(Waits.Event);
        }
        await _plfs.DisposeAsync();
        TryDelete(_scratch);
    }

    private static void TryDelete(string directory)
    {
        try { Directory.Delete(directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
