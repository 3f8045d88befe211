using System.Formats.Asn1;
using System.Security.Cryptography.X509Certificates;
using Holdfast.Server.Tls;

namespace Holdfast.Server.Tests.Tls;

/// <summary>use_subject_as_username takes the subject as Mosquitto 2.0.11 prints it (OpenSSL's X509_NAME_print_ex with
/// XN_FLAG_RFC2253). Each expected string is what `openssl x509 -noout -subject -nameopt RFC2253` (OpenSSL 3.0, Debian 12)
/// printed for the same name.</summary>
public sealed class Rfc2253NameTests
{
    private static X500DistinguishedName Name(params (string Oid, string Value, UniversalTagNumber Type)[] rdnsInDerOrder)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            foreach (var (oid, value, type) in rdnsInDerOrder)
            {
                using (writer.PushSetOf())
                using (writer.PushSequence())
                {
                    writer.WriteObjectIdentifier(oid);
                    writer.WriteCharacterString(type, value);
                }
            }
        }
        return new X500DistinguishedName(writer.Encode());
    }

    private static (string, string, UniversalTagNumber) Utf8(string oid, string value) => (oid, value, UniversalTagNumber.UTF8String);

    [Fact]
    public void Mosquittos_test_client_certificate()
    {
        var name = Name(("2.5.4.6", "GB", UniversalTagNumber.PrintableString), Utf8("2.5.4.8", "Nottinghamshire"), Utf8("2.5.4.7", "Nottingham"),
            Utf8("2.5.4.10", "Server"), Utf8("2.5.4.11", "Production"), Utf8("2.5.4.3", "test client"));
        Assert.Equal("CN=test client,OU=Production,O=Server,L=Nottingham,ST=Nottinghamshire,C=GB", Rfc2253Name.Format(name));
    }

    [Fact]
    public void Special_characters_take_a_backslash_and_equals_and_inner_hash_do_not() =>
        Assert.Equal("""CN=a\,b\+c=d\;e\<f\>g\"h\\i#j=k""", Rfc2253Name.Format(Name(Utf8("2.5.4.3", "a,b+c=d;e<f>g\"h\\i#j=k"))));

    [Fact]
    public void A_leading_hash_and_leading_or_trailing_spaces_are_escaped() =>
        Assert.Equal(@"CN=\ ,L=trail\ ,OU=\#hash,O=\ lead#",
            Rfc2253Name.Format(Name(Utf8("2.5.4.10", " lead#"), Utf8("2.5.4.11", "#hash"), Utf8("2.5.4.7", "trail "), Utf8("2.5.4.3", " "))));

    [Fact]
    public void Non_ASCII_is_written_as_escaped_UTF8_bytes() =>
        Assert.Equal(@"CN=Jos\C3\A9 \E6\97\A5\E6\9C\AC \F0\9F\98\80", Rfc2253Name.Format(Name(Utf8("2.5.4.3", "José 日本 😀"))));

    [Fact]
    public void Control_characters_are_written_in_hex() =>
        Assert.Equal(@"CN=ctl\01\1F\7Fend", Rfc2253Name.Format(Name(Utf8("2.5.4.3", "ctl\u0001\u001f\u007fend"))));

    [Fact]
    public void BMP_T61_and_IA5_strings_are_read_as_OpenSSL_reads_them() =>
        Assert.Equal(@"CN=ia5,CN=t61 x,CN=bmp \C3\A9",
            Rfc2253Name.Format(Name(("2.5.4.3", "bmp é", UniversalTagNumber.BMPString), ("2.5.4.3", "t61 x", UniversalTagNumber.T61String),
                ("2.5.4.3", "ia5", UniversalTagNumber.IA5String))));

    [Fact]
    public void An_attribute_OpenSSL_has_no_name_for_is_its_OID_and_the_hex_of_its_DER() =>
        Assert.Equal("CN=x,1.2.3.4=#0C07756E6B6E6F776E", Rfc2253Name.Format(Name(Utf8("1.2.3.4", "unknown"), Utf8("2.5.4.3", "x"))));

    [Fact]
    public void Short_names_are_OpenSSLs() =>
        Assert.Equal("DC=com,UID=u1,emailAddress=a@b.c,serialNumber=42,SN=Sur,GN=Giv,title=T,street=S,organizationIdentifier=OI",
            Rfc2253Name.Format(Name(Utf8("2.5.4.97", "OI"), Utf8("2.5.4.9", "S"), Utf8("2.5.4.12", "T"), Utf8("2.5.4.42", "Giv"),
                Utf8("2.5.4.4", "Sur"), ("2.5.4.5", "42", UniversalTagNumber.PrintableString), ("1.2.840.113549.1.9.1", "a@b.c", UniversalTagNumber.IA5String),
                Utf8("0.9.2342.19200300.100.1.1", "u1"), ("0.9.2342.19200300.100.1.25", "com", UniversalTagNumber.IA5String))));

    [Fact]
    public void A_multi_valued_RDN_is_joined_by_plus_last_value_first()
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            using (writer.PushSetOf()) using (writer.PushSequence()) { writer.WriteObjectIdentifier("2.5.4.6"); writer.WriteCharacterString(UniversalTagNumber.PrintableString, "GB"); }
            using (writer.PushSetOf())
            {
                using (writer.PushSequence()) { writer.WriteObjectIdentifier("2.5.4.10"); writer.WriteCharacterString(UniversalTagNumber.UTF8String, "x"); }
                using (writer.PushSequence()) { writer.WriteObjectIdentifier("2.5.4.11"); writer.WriteCharacterString(UniversalTagNumber.UTF8String, "y"); }
            }
            using (writer.PushSetOf()) using (writer.PushSequence()) { writer.WriteObjectIdentifier("2.5.4.3"); writer.WriteCharacterString(UniversalTagNumber.UTF8String, "z"); }
        }
        Assert.Equal("CN=z,OU=y+O=x,C=GB", Rfc2253Name.Format(new X500DistinguishedName(writer.Encode())));
    }

    [Fact]
    public void An_empty_subject_is_an_empty_string() => Assert.Equal("", Rfc2253Name.Format(new X500DistinguishedName("")));
}
