namespace Holdfast.Interop.Tests.Security;

/// <summary>A scratch directory for a test's ACL and password files, removed at the end.</summary>
internal sealed class AclTestFiles : IDisposable
{
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("holdfast-acl-").FullName;

    public string Acl => Path.Combine(Directory, "acl");
    public string Passwords => Path.Combine(Directory, "passwords");

    /// <summary>Writes the ACL file; the text's lines as given.</summary>
    public string WriteAcl(string text)
    {
        File.WriteAllText(Acl, text);
        return Acl;
    }

    /// <summary>Writes a password file with <c>user:password</c> pairs, hashed as mosquitto_passwd does.</summary>
    public string WritePasswords(params (string User, string Password)[] users)
    {
        File.WriteAllText(Passwords, string.Concat(users.Select(u => $"{u.User}:{Holdfast.Server.Security.PasswordFile.Hash(u.Password)}\n")));
        return Passwords;
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}
