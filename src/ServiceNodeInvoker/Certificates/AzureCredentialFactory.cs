using Azure.Core;
using Azure.Identity;
using Microsoft.Extensions.Configuration;

namespace ServiceNodeInvoker.Certificates;

/// <summary>
/// The app's one Azure credential. In Azure: the user-assigned managed identity whose client id is
/// <c>Invoker:ManagedIdentityClientId</c> or <c>AZURE_CLIENT_ID</c> (no probing, so no 8–10 s stalls).
/// Elsewhere: the developer's sign-in (Azure CLI, azd, Visual Studio…) through DefaultAzureCredential.
/// </summary>
public static class AzureCredentialFactory
{
    public static TokenCredential Create(IConfiguration configuration)
    {
        var clientId = configuration["Invoker:ManagedIdentityClientId"] ?? configuration["AZURE_CLIENT_ID"];
        var mode = configuration["Invoker:Credential"]?.Trim().ToLowerInvariant();
        // The App Service / Functions platform sets IDENTITY_ENDPOINT for managed identities.
        var inAzure = !string.IsNullOrEmpty(configuration["IDENTITY_ENDPOINT"]) || !string.IsNullOrEmpty(configuration["MSI_ENDPOINT"]);
        if (mode == "managedidentity" || (mode is null or "" or "auto" && inAzure))
        {
            return string.IsNullOrEmpty(clientId)
                ? new ManagedIdentityCredential(ManagedIdentityId.SystemAssigned)
                : new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId));
        }
        if (mode == "azurecli")
        {
            return new AzureCliCredential();
        }
        return new DefaultAzureCredential(new DefaultAzureCredentialOptions
        {
            ManagedIdentityClientId = string.IsNullOrEmpty(clientId) ? null : clientId,
            ExcludeInteractiveBrowserCredential = true,
        });
    }
}
