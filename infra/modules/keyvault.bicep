// Key Vault for the profiles' client certificates: RBAC mode, soft delete, purge protection.
param location string
param tags object
@description('uniqueString() of the subscription, environment and location: 13 characters.')
@minLength(13)
@maxLength(13)
param resourceToken string
param identityPrincipalId string
param principalId string
param principalType string
param enableVnet bool
@description('VNet mode: public CIDR ranges that may still reach the vault (certificate import by a person or pipeline).')
param allowedIpRanges string[]
param workspaceId string
param privateEndpointSubnetId string
param vnetId string

var secretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var certificateUser = 'db79e9a7-68ee-4b58-9aeb-b90e7c24fcba'
var secretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
var certificatesOfficer = 'a4417e6f-fecd-4de8-b567-7b0420556985'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: 'kv-${resourceToken}'
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    // VNet mode: the app comes in through the private endpoint; the listed IP ranges (if any) through the
    // public endpoint, so certificates can be imported; everyone else is denied.
    publicNetworkAccess: enableVnet && empty(allowedIpRanges) ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: enableVnet ? 'Deny' : 'Allow'
      ipRules: enableVnet ? map(allowedIpRanges, r => { value: r }) : []
    }
  }
}

// Key Vault Certificate User (app): each refresh reads the certificate's metadata (current version, validity, policy).
// Key Vault Secrets User (app): the key material, read through the secret (the only form with the chain) when the version changed.
resource appRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in [certificateUser, secretsUser]: {
    name: guid(vault.id, identityPrincipalId, role)
    scope: vault
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: identityPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

// The deployer: Key Vault Certificates Officer to import and rotate certificates (docs/deploy.md);
// Key Vault Secrets Officer to store CA PEMs with `az keyvault secret set` and read secrets for a local
// Key Vault profile (func start / the standalone host under the deployer's own sign-in).
resource deployerRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in (empty(principalId) ? [] : [certificatesOfficer, secretsOfficer]): {
    name: guid(vault.id, principalId, role)
    scope: vault
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: principalId
      principalType: empty(principalType) ? null : principalType
    }
  }
]

// Who read or changed what, in the workspace: certificate and secret access is the audit trail of this app.
resource audit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-workspace'
  scope: vault
  properties: {
    workspaceId: workspaceId
    logs: [
      { category: 'AuditEvent', enabled: true }
    ]
  }
}

module endpoint 'private-endpoint.bicep' = if (enableVnet) {
  name: 'pe-keyvault'
  params: {
    location: location
    tags: tags
    name: 'pe-${vault.name}'
    resourceId: vault.id
    groupId: 'vault'
    dnsZoneName: 'privatelink.vaultcore.azure.net'
    subnetId: privateEndpointSubnetId
    vnetId: vnetId
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
