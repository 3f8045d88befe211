using System.Runtime.InteropServices;

namespace Holdfast.Storage.RocksDb;

/// <summary>fsync of a directory: what makes an entry created in it (a file or a directory) survive a power cut. Until
/// then POSIX lets the cut drop the entry, and with it everything beneath, however well that was fsync'd.</summary>
public static class DirectorySync
{
    /// <summary>O_RDONLY, 0 on every Unix: a directory opens read-only. No O_DIRECTORY: its value differs by
    /// architecture, and the callers pass directories they just made or checked.</summary>
    private const int ReadOnly = 0;

    /// <summary>Opens <paramref name="directory"/> and fsyncs it. Throws <see cref="IOException"/> naming the directory,
    /// the call that failed and the system's reason.</summary>
    public static void Fsync(string directory)
    {
        // .NET has no directory fsync (FileStream and File.OpenHandle refuse a directory), hence libc. Windows has none
        // to call, and needs none: NTFS journals directory changes itself.
        if (OperatingSystem.IsWindows()) return;
        int fd = Open(directory, ReadOnly);
        if (fd < 0) throw Failure("open", directory);
        try
        {
            if (Sync(fd) != 0) throw Failure("fsync", directory);
        }
        finally
        {
            _ = Close(fd); // A read-only descriptor has nothing left to write: close cannot lose anything.
        }
    }

    private static IOException Failure(string call, string directory)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new IOException($"{call} of directory {directory} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
    }

    // DllImport rather than LibraryImport: the latter's generated code needs unsafe blocks, which this solution keeps off.
    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int Sync(int fd);

    [DllImport("libc", EntryPoint = "close")]
    private static extern int Close(int fd);
}
