namespace ServiceNodeInvoker.Certificates;

/// <summary>The Azure credential the app uses for Key Vault and telemetry.</summary>
public enum CredentialKind
{
    /// <summary>Managed identity in Azure (the platform sets IDENTITY_ENDPOINT), DefaultAzureCredential elsewhere.</summary>
    Auto,
    /// <summary>Managed identity, wherever the app runs.</summary>
    ManagedIdentity,

    /// <summary>The Azure CLI's sign-in (local development).</summary>
    AzureCli,

    /// <summary>DefaultAzureCredential's chain.</summary>
    Default,
}
