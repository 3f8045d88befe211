namespace Holdfast.Testing;

/// <summary>A fresh, empty directory under the system temp directory, deleted (with everything in it) on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("holdfast-test-").FullName;

    /// <summary>A path inside this directory (not created).</summary>
    public string Combine(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Writes <paramref name="text"/> to a file inside this directory, making its folders; returns its full path.</summary>
    public string Write(string relativePath, string text)
    {
        var full = Combine(relativePath);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllText(full, text);
        return full;
    }

    public void Dispose()
    {
        // Best effort: a leftover temp directory must not fail a test.
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}
