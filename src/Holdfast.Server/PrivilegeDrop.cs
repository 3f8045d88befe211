using System.Runtime.InteropServices;

namespace Holdfast.Server;

/// <summary>
/// Mosquitto's <c>user</c>: a broker started as root gives up root once its listeners are bound (so it can take ports
/// below 1024) and its store is open, and runs on as that user and its primary group. The data directory is handed to
/// the user first: the store keeps creating files in it. Started as anyone else, there is nothing to give up.
/// </summary>
internal sealed class PrivilegeDrop
{
    private readonly string _user;
    private readonly uint _uid, _gid;

    private PrivilegeDrop(string user, uint uid, uint gid) => (_user, _uid, _gid) = (user, uid, gid);

    /// <summary>Null when nothing is to be dropped: no <c>user</c>, <c>user root</c>, or not running as root.</summary>
    /// <exception cref="InvalidOperationException">The user does not exist.</exception>
    public static PrivilegeDrop? For(string? user)
    {
        if (user is null or "root" || geteuid() != 0) return null;
        var entry = getpwnam(user);
        if (entry == IntPtr.Zero) throw new InvalidOperationException($"user {user}: no such user on this system");
        var passwd = Marshal.PtrToStructure<Passwd>(entry);
        return new PrivilegeDrop(user, passwd.Uid, passwd.Gid);
    }

    public override string ToString() => $"{_user} (uid {_uid}, gid {_gid})";

    /// <summary>Gives <paramref name="directory"/> and everything in it to the user (created if missing). Symbolic links
    /// are neither followed nor changed: the user owned this directory on the last run and could have planted one
    /// pointing at a file root must not give away.</summary>
    public void HandOver(string directory)
    {
        Directory.CreateDirectory(directory);
        Own(directory);
        var walk = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint };
        foreach (var entry in Directory.EnumerateFileSystemEntries(directory, "*", walk)) Own(entry);
    }

    /// <summary>Gives a log file to the user, unless it is a symbolic link (see <see cref="HandOver"/>).</summary>
    public void HandOverFile(string path)
    {
        if (!File.GetAttributes(path).HasFlag(FileAttributes.ReparsePoint)) Own(path);
    }

    /// <summary>Supplementary groups, then the group, then the user: in that order, since after setuid the rest is no
    /// longer allowed. glibc applies each call to every thread of the process.</summary>
    public void Drop()
    {
        Check(initgroups(_user, _gid), "initgroups");
        Check(setgid(_gid), "setgid");
        Check(setuid(_uid), "setuid");
    }

    /// <summary>Fails (stopping startup) when the user cannot create files in <paramref name="directory"/>, e.g. because
    /// a parent directory is closed to it: better now than at the store's next new file.</summary>
    public void CheckWritable(string directory)
    {
        string probe = Path.Combine(directory, $".holdfast-user-check-{Environment.ProcessId}");
        try
        {
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"user {_user} cannot write the data directory {directory}: {e.Message} (every directory above it must be open to that user)", e);
        }
    }

    // lchown: never through a link, even one swapped in after the check above.
    private void Own(string path) => Check(lchown(path, _uid, _gid), $"chown {path}");

    private static void Check(int result, string call)
    {
        if (result == 0) return;
        int errno = Marshal.GetLastPInvokeError();
        throw new IOException($"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
    }

    /// <summary>glibc's struct passwd on 64-bit Linux: the fields up to pw_gid are all that is read.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Passwd
    {
        public IntPtr Name;
        public IntPtr Password;
        public uint Uid;
        public uint Gid;
    }

    // DllImport rather than LibraryImport: the latter's generated code needs unsafe blocks, which this solution keeps off.
    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr getpwnam([MarshalAs(UnmanagedType.LPUTF8Str)] string name);

    [DllImport("libc")]
    private static extern uint geteuid();

    [DllImport("libc", SetLastError = true)]
    private static extern int initgroups([MarshalAs(UnmanagedType.LPUTF8Str)] string user, uint group);

    [DllImport("libc", SetLastError = true)]
    private static extern int setgid(uint gid);

    [DllImport("libc", SetLastError = true)]
    private static extern int setuid(uint uid);

    [DllImport("libc", SetLastError = true)]
    private static extern int lchown([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint owner, uint group);
}
