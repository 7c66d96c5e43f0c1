using ServiceNodeInvoker.Primitives;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace ServiceNodeInvoker.Tokens;

/// <summary>
/// The RFC 7523 client assertion for <c>private_key_jwt</c>: a JWT signed with the client certificate's private key —
/// PS256 for RSA (what FAPI and Microsoft Entra ask for), ES256/384/512 for EC by curve — whose header names the
/// certificate by <c>x5t#S256</c>, and whose claims say who we are (<c>iss</c> = <c>sub</c> = client id), for whom
/// (<c>aud</c> = the token endpoint), once (<c>jti</c>) and briefly (60 s). The assertion is a credential: it is sent
/// in the token request's body and never logged.
/// </summary>
internal static class ClientAssertion
{
    public const string Type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(60);

    public static string Create(X509Certificate2 certificate, string clientId, string audience, DateTimeOffset now)
    {
        var (algorithm, sign) = Signer(certificate);
        var header = Json(w =>
        {
            w.WriteString("alg", algorithm);
            w.WriteString("typ", "JWT");
            w.WriteString("x5t#S256", Base64Url.EncodeToString(SHA256.HashData(certificate.RawData)));
        });
        var issued = now.ToUnixTimeSeconds();
        var claims = Json(w =>
        {
            w.WriteString("iss", clientId);
            w.WriteString("sub", clientId);
            w.WriteString("aud", audience);
            w.WriteString("jti", Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));
            w.WriteNumber("iat", issued);
            w.WriteNumber("nbf", issued);
            w.WriteNumber("exp", issued + (long)Lifetime.TotalSeconds);
        });
        var signingInput = $"{Base64Url.EncodeToString(header)}.{Base64Url.EncodeToString(claims)}";
        var signature = sign(System.Text.Encoding.ASCII.GetBytes(signingInput));
        return $"{signingInput}.{Base64Url.EncodeToString(signature)}";
    }

    /// <summary>The JWS algorithm for the certificate's key, and a signature function. The key handle lives as long as the certificate.</summary>
    private static (string Algorithm, Func<byte[], byte[]> Sign) Signer(X509Certificate2 certificate)
    {
        if (certificate.GetRSAPrivateKey() is { } rsa)
        {
            return ("PS256", data => rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pss));
        }
        if (certificate.GetECDsaPrivateKey() is { } ec)
        {
            var (algorithm, hash) = ec.KeySize switch
            {
                <= 256 => ("ES256", HashAlgorithmName.SHA256),
                <= 384 => ("ES384", HashAlgorithmName.SHA384),
                _ => ("ES512", HashAlgorithmName.SHA512),
            };
            // JWS wants r‖s (IEEE P1363), which is .NET's default for ECDsa.SignData.
            return (algorithm, data => ec.SignData(data, hash));
        }
        throw new TokenRequestException($"the client certificate '{LogText.Quote(certificate.Subject)}' has no RSA or EC private key to sign a client assertion with",
            Contract.FailureCauses.TokenClientCredential);
    }

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
