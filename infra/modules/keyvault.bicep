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
param privateEndpointSubnetId string
param vnetId string

var secretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var certificateUser = 'db79e9a7-68ee-4b58-9aeb-b90e7c24fcba'
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
    publicNetworkAccess: enableVnet ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: enableVnet ? 'Deny' : 'Allow'
    }
  }
}

// The app reads certificates through their secrets (the chain is only there) and their metadata.
resource appRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in [secretsUser, certificateUser]: {
    name: guid(vault.id, identityPrincipalId, role)
    scope: vault
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: identityPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

// The deploying user imports and rotates client certificates.
resource officer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(principalId)) {
  name: guid(vault.id, principalId, certificatesOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', certificatesOfficer)
    principalId: principalId
    principalType: principalType
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
