using System.Security.Cryptography.X509Certificates;

namespace ServiceNodeInvoker.TestSupport;

/// <summary>Builds Invoker:Profiles settings the way an operator writes them.</summary>
public sealed class ProfileSettings
{
    public const string Password = "pfx-password-!42";

    public Dictionary<string, string?> Settings { get; } = new();

    public ProfileSettings Add(string name, int port, string? pfxPath, string? trustedCaPath, string host = "localhost")
    {
        Set(name, "Hosts:0", $"{host}:{port}");
        if (pfxPath is not null)
        {
            Set(name, "ClientCertificate:Source", "File");
            Set(name, "ClientCertificate:Path", pfxPath);
            Set(name, "ClientCertificate:Password", Password);
        }
        if (trustedCaPath is not null)
        {
            Set(name, "TrustedCa:Source", "File");
            Set(name, "TrustedCa:Path", trustedCaPath);
        }
        return this;
    }

    public ProfileSettings Set(string name, string setting, string? value)
    {
        Settings[$"Invoker:Profiles:{name}:{setting}"] = value;
        return this;
    }

    /// <summary>A standard profile: the RSA client PFX (leaf + intermediate) and the test root as TrustedCa.</summary>
    public static ProfileSettings Standard(TempFiles files, int port, string name = "payments", X509Certificate2? client = null)
    {
        var pki = TestPki.Instance;
        var pfx = files.Pfx($"{name}.pfx", Password, client ?? pki.ClientRsa, pki.IntermediatePublic);
        var root = files.CertificatePem($"{name}-root.pem", pki.RootPublic);
        return new ProfileSettings().Add(name, port, pfx, root);
    }
}
