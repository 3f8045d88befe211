namespace Holdfast.Storage.Tests.Support;

/// <summary>A fresh, empty directory under the system temp directory, deleted (with everything in it) on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("holdfast-storage-test-").FullName;

    /// <summary>A path inside this directory (not created).</summary>
    public string Combine(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (DirectoryNotFoundException) { }
    }
}
