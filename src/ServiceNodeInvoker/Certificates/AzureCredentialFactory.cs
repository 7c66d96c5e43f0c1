using Azure.Core;
using Azure.Identity;

namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// The app's one Azure credential. In Azure: the user-assigned managed identity whose client id is
/// <c>Invoker:ManagedIdentityClientId</c> or <c>AZURE_CLIENT_ID</c> (no probing, so no 8–10 s stalls).
/// Elsewhere: the developer's sign-in (Azure CLI, azd, Visual Studio…) through DefaultAzureCredential.
/// </summary>
internal static class AzureCredentialFactory
{
    /// <param name="kind">Invoker:Credential.</param>
    /// <param name="managedIdentityClientId">Invoker:ManagedIdentityClientId, validated; it already falls back to AZURE_CLIENT_ID.</param>
    /// <param name="inAzure">The platform announced a managed identity endpoint (IDENTITY_ENDPOINT or MSI_ENDPOINT).</param>
    public static TokenCredential Create(CredentialKind kind, string? managedIdentityClientId, bool inAzure)
    {
        var clientId = string.IsNullOrWhiteSpace(managedIdentityClientId) ? null : managedIdentityClientId.Trim();
        switch (kind)
        {
            case CredentialKind.ManagedIdentity:
            case CredentialKind.Auto when inAzure:
                return clientId is null
                    ? new ManagedIdentityCredential(ManagedIdentityId.SystemAssigned)
                    : new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId));
            case CredentialKind.AzureCli:
                return new AzureCliCredential();
            default:
                return new DefaultAzureCredential(new DefaultAzureCredentialOptions
                {
                    ManagedIdentityClientId = clientId,
                    ExcludeInteractiveBrowserCredential = true,
                });
        }
    }
}
