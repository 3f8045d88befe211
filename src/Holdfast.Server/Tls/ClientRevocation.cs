using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Holdfast.Server.Tls;

/// <summary>
/// crlfile: the CRLs client certificates are checked against, the way Mosquitto has OpenSSL check them
/// (X509_V_FLAG_CRL_CHECK): the client's own certificate only, against a list from its issuer that is signed by that
/// issuer. No such list, or one past its nextUpdate, refuses the certificate; a list whose issuer is not in cafile/capath
/// can never apply, and is only noted at startup.
/// </summary>
internal sealed class ClientRevocation
{
    private readonly List<(RevocationList List, X509Certificate2 Issuer)> _lists;

    private ClientRevocation(List<(RevocationList, X509Certificate2)> lists, List<string> notes)
    {
        _lists = lists;
        Notes = notes;
    }

    /// <summary>What was loaded, for the startup log.</summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>Reads every PEM CRL of <paramref name="path"/> and checks each one's signature against its issuer among
    /// <paramref name="trusted"/>. Throws <see cref="FormatException"/> or <see cref="IOException"/> naming the problem.</summary>
    public static ClientRevocation Load(string path, X509Certificate2Collection trusted)
    {
        var lists = new List<(RevocationList, X509Certificate2)>();
        var notes = new List<string>();
        var pems = ReadPem(path);
        if (pems.Count == 0) throw new FormatException($"{path} holds no PEM CRL (-----BEGIN X509 CRL-----)");
        for (int i = 0; i < pems.Count; i++)
        {
            string which = pems.Count == 1 ? path : $"CRL {i + 1} of {path}";
            RevocationList list;
            try
            {
                list = RevocationList.Parse(pems[i]);
            }
            catch (FormatException e)
            {
                throw new FormatException($"{which}: {e.Message}", e);
            }
            var issuers = trusted.Where(ca => ca.SubjectName.RawData.AsSpan().SequenceEqual(list.Issuer.RawData)).ToList();
            if (issuers.Count == 0)
            {
                notes.Add($"{which}: the CRL of '{Named(list.Issuer)}' is not used: its issuer is not in cafile/capath.");
                continue;
            }
            X509Certificate2? signer;
            try
            {
                signer = issuers.FirstOrDefault(list.VerifiedBy);
            }
            catch (FormatException e)
            {
                throw new FormatException($"{which}: {e.Message}", e);
            }
            if (signer is null) throw new FormatException($"{which}: its signature does not verify with the key of '{Named(list.Issuer)}' in cafile/capath");
            lists.Add((list, signer));
            string next = list.NextUpdate is { } at ? $"next update {at.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC" : "no next update";
            notes.Add($"{which}: CRL of '{Named(list.Issuer)}', {list.RevokedCount} revoked, {next}.");
        }
        return new ClientRevocation(lists, notes);
    }

    /// <summary>Why <paramref name="certificate"/>, issued by <paramref name="issuer"/>, is refused, in OpenSSL's words; null
    /// when it is not. Of several lists from its issuer, the newest one in force decides, as OpenSSL picks it.</summary>
    public string? Refusal(X509Certificate2 certificate, X509Certificate2 issuer, DateTimeOffset now)
    {
        // The same CA: its name and the key that signed the list (a renewed CA certificate with the same key still is).
        var fromIssuer = _lists.Where(l => l.Issuer.SubjectName.RawData.AsSpan().SequenceEqual(issuer.SubjectName.RawData)
            && l.Issuer.GetPublicKey().AsSpan().SequenceEqual(issuer.GetPublicKey())).Select(l => l.List).ToList();
        if (fromIssuer.Count == 0) return "unable to get certificate CRL";
        var inForce = fromIssuer.Where(l => l.ThisUpdate <= now && (l.NextUpdate is not { } next || next > now)).ToList();
        if (inForce.Count == 0)
            return fromIssuer.MaxBy(l => l.ThisUpdate)!.ThisUpdate > now ? "CRL is not yet valid" : "CRL has expired";
        return inForce.MaxBy(l => l.ThisUpdate)!.Revokes(certificate) ? "certificate revoked" : null;
    }

    private static string Named(X500DistinguishedName name) => Rfc2253Name.Format(name) ?? name.Name;

    private static List<byte[]> ReadPem(string path)
    {
        string text = File.ReadAllText(path);
        var found = new List<byte[]>();
        var rest = text.AsSpan();
        while (PemEncoding.TryFind(rest, out var fields))
        {
            if (rest[fields.Label].SequenceEqual("X509 CRL")) found.Add(Convert.FromBase64String(rest[fields.Base64Data].ToString()));
            rest = rest[fields.Location.End..];
        }
        return found;
    }
}
