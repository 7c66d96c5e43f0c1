using Azure.Core;
using Azure.Identity;
using ServiceNodeInvoker.Configuration;

namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// The app's one Azure credential. In Azure: the user-assigned managed identity whose client id is
/// <c>Invoker:ManagedIdentityClientId</c> or <c>AZURE_CLIENT_ID</c> (no probing, so no 8–10 s stalls).
/// Elsewhere: the developer's sign-in (Azure CLI, azd, Visual Studio…) through DefaultAzureCredential.
/// </summary>
public static class AzureCredentialFactory
{
    /// <param name="options">Validated options; <c>ManagedIdentityClientId</c> already falls back to AZURE_CLIENT_ID.</param>
    /// <param name="inAzure">The platform announced a managed identity endpoint (IDENTITY_ENDPOINT or MSI_ENDPOINT).</param>
    public static TokenCredential Create(InvokerOptions options, bool inAzure)
    {
        var clientId = string.IsNullOrWhiteSpace(options.ManagedIdentityClientId) ? null : options.ManagedIdentityClientId.Trim();
        switch (options.Credential)
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
