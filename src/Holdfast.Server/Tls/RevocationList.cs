using System.Formats.Asn1;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Holdfast.Server.Tls;

/// <summary>
/// One certificate revocation list (RFC 5280 §5) from crlfile, read at startup. .NET's X509Chain takes no CRL file, so
/// Holdfast reads it and checks its signature itself (<see cref="VerifiedBy"/>), and the TLS listener asks it about a
/// client certificate after the chain is built (<see cref="ClientRevocation"/>).
/// </summary>
internal sealed class RevocationList
{
    private readonly byte[] _signedPart;
    private readonly string _signatureAlgorithm;
    private readonly byte[] _signature;
    private readonly HashSet<BigInteger> _revoked;

    private RevocationList(byte[] signedPart, string signatureAlgorithm, byte[] signature, X500DistinguishedName issuer,
        DateTimeOffset thisUpdate, DateTimeOffset? nextUpdate, HashSet<BigInteger> revoked)
    {
        _signedPart = signedPart;
        _signatureAlgorithm = signatureAlgorithm;
        _signature = signature;
        Issuer = issuer;
        ThisUpdate = thisUpdate;
        NextUpdate = nextUpdate;
        _revoked = revoked;
    }

    public X500DistinguishedName Issuer { get; }
    public DateTimeOffset ThisUpdate { get; }
    /// <summary>When the issuer promises the next list; null when it does not say (then, as for OpenSSL, it never expires).</summary>
    public DateTimeOffset? NextUpdate { get; }
    public int RevokedCount => _revoked.Count;

    public bool Revokes(X509Certificate2 certificate) =>
        _revoked.Contains(new BigInteger(certificate.SerialNumberBytes.Span, isUnsigned: false, isBigEndian: true));

    /// <summary>Reads one DER-encoded CRL. Throws <see cref="FormatException"/> naming what is wrong or not supported.</summary>
    public static RevocationList Parse(byte[] der)
    {
        try
        {
            var outer = new AsnReader(der, AsnEncodingRules.DER);
            var list = outer.ReadSequence();
            outer.ThrowIfNotEmpty();
            byte[] signedPart = list.PeekEncodedValue().ToArray();
            var tbs = list.ReadSequence();
            string algorithm = list.ReadSequence().ReadObjectIdentifier();
            byte[] signature = list.ReadBitString(out _);
            list.ThrowIfNotEmpty();

            if (tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Integer)) tbs.ReadInteger();
            // The signed part names the algorithm too, and the two must be the same [RFC 5280 §5.1.1.2].
            if (tbs.ReadSequence().ReadObjectIdentifier() != algorithm)
                throw new FormatException("its signed part and its signature name different algorithms");
            var issuer = new X500DistinguishedName(tbs.ReadEncodedValue().Span);
            var thisUpdate = ReadTime(tbs);
            DateTimeOffset? nextUpdate = tbs.HasData && IsTime(tbs.PeekTag()) ? ReadTime(tbs) : null;
            var revoked = new HashSet<BigInteger>();
            if (tbs.HasData && tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Sequence))
            {
                var entries = tbs.ReadSequence();
                while (entries.HasData)
                {
                    var entry = entries.ReadSequence();
                    revoked.Add(entry.ReadInteger());
                    ReadTime(entry);
                    if (entry.HasData) RefuseCritical(entry.ReadSequence(), "an entry of the list");
                }
            }
            if (tbs.HasData) RefuseCritical(tbs.ReadSequence(new Asn1Tag(TagClass.ContextSpecific, 0)).ReadSequence(), "the list");
            tbs.ThrowIfNotEmpty();
            return new RevocationList(signedPart, algorithm, signature, issuer, thisUpdate, nextUpdate, revoked);
        }
        catch (AsnContentException e)
        {
            throw new FormatException($"not a valid CRL ({e.Message})", e);
        }
        catch (CryptographicException e)
        {
            throw new FormatException($"not a valid CRL ({e.Message})", e);
        }
    }

    /// <summary>Whether <paramref name="ca"/> signed this list; throws <see cref="FormatException"/> for a signature
    /// algorithm Holdfast cannot check, or a CA whose key usage does not allow signing CRLs (OpenSSL refuses those too).</summary>
    public bool VerifiedBy(X509Certificate2 ca)
    {
        if (ca.Extensions["2.5.29.15"] is X509KeyUsageExtension usage && (usage.KeyUsages & X509KeyUsageFlags.CrlSign) == 0)
            throw new FormatException($"its issuer '{ListenerTls.Describe(ca)}' may not sign CRLs (key usage without cRLSign)");
        switch (_signatureAlgorithm)
        {
            case "1.2.840.113549.1.1.5" or "1.2.840.113549.1.1.11" or "1.2.840.113549.1.1.12" or "1.2.840.113549.1.1.13":
                using (var rsa = ca.GetRSAPublicKey())
                    return rsa is not null && rsa.VerifyData(_signedPart, _signature, Hash(_signatureAlgorithm), RSASignaturePadding.Pkcs1);
            case "1.2.840.10045.4.1" or "1.2.840.10045.4.3.2" or "1.2.840.10045.4.3.3" or "1.2.840.10045.4.3.4":
                using (var ecdsa = ca.GetECDsaPublicKey())
                    return ecdsa is not null && ecdsa.VerifyData(_signedPart, _signature, Hash(_signatureAlgorithm), DSASignatureFormat.Rfc3279DerSequence);
            default:
                throw new FormatException($"its signature algorithm {_signatureAlgorithm} is not supported (RSA PKCS#1 v1.5 and ECDSA are)");
        }
    }

    private static HashAlgorithmName Hash(string signatureAlgorithm) => signatureAlgorithm switch
    {
        "1.2.840.113549.1.1.5" or "1.2.840.10045.4.1" => HashAlgorithmName.SHA1,
        "1.2.840.113549.1.1.12" or "1.2.840.10045.4.3.3" => HashAlgorithmName.SHA384,
        "1.2.840.113549.1.1.13" or "1.2.840.10045.4.3.4" => HashAlgorithmName.SHA512,
        _ => HashAlgorithmName.SHA256,
    };

    /// <summary>A critical extension is one the reader must understand to use the list (RFC 5280 §5.2, §5.3): partitioned
    /// (issuing distribution point), delta and indirect CRLs. Holdfast does not; it refuses the file rather than misread it.</summary>
    private static void RefuseCritical(AsnReader extensions, string where)
    {
        while (extensions.HasData)
        {
            var extension = extensions.ReadSequence();
            string oid = extension.ReadObjectIdentifier();
            bool critical = extension.PeekTag().HasSameClassAndValue(Asn1Tag.Boolean) && extension.ReadBoolean();
            if (critical) throw new FormatException($"{where} has critical extension {oid}, which Holdfast does not support");
        }
    }

    private static bool IsTime(Asn1Tag tag) =>
        tag.HasSameClassAndValue(new Asn1Tag(UniversalTagNumber.UtcTime)) || tag.HasSameClassAndValue(new Asn1Tag(UniversalTagNumber.GeneralizedTime));

    private static DateTimeOffset ReadTime(AsnReader reader) =>
        reader.PeekTag().HasSameClassAndValue(new Asn1Tag(UniversalTagNumber.UtcTime)) ? reader.ReadUtcTime() : reader.ReadGeneralizedTime();
}
