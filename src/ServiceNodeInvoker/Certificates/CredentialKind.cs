namespace ServiceNodeInvoker.Certificates;

/// <summary>The Azure credential the app uses for Key Vault and telemetry.</summary>
public enum CredentialKind
{
    /// <summary>Managed identity in Azure (the platform sets IDENTITY_ENDPOINT), DefaultAzureCredential elsewhere.</summary>
    Auto,
    ManagedIdentity,
    AzureCli,
    Default,
}
