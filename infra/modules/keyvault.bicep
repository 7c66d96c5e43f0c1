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
@description('Who of the deployers gets the Key Vault data roles: UserOnly (a signed-in person), Always (also a service principal), Never.')
param deployerKeyVaultRoles string
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

@export()
@description('Whether the deployer gets the Key Vault data roles (Certificates Officer, Secrets Officer): by its principal type and the deployerKeyVaultRoles choice.')
func deployerGetsDataRoles(principalId string, principalType string, mode string) bool =>
  !empty(principalId) && (mode == 'Always' || (mode == 'UserOnly' && principalType == 'User'))

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

// The app's data roles, for what they really allow on this vault (every item in it, not only the profiles' own):
// - Key Vault Certificate User: read every certificate (metadata, policy, versions: each refresh asks for the current
//   version) and, through its data action secrets/getSecret, the value of every secret, so also the certificates' key
//   material and chains (a certificate's private key is read through its secret), CA PEM secrets and OAuth client
//   secrets; keys' public parts.
// - Key Vault Secrets User: read the value and metadata of every secret: a subset of Certificate User's data actions,
//   so it grants nothing more. Assigned as the role Microsoft documents for reading secrets, so the app's reads do
//   not hinge on Certificate User keeping its secret access.
// Keep only the invoker's material in this vault: whatever else is put here, the app can read.
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

// The deployer's data roles, for the documented certificate steps (docs/deploy.md):
// - Key Vault Certificates Officer: every certificate operation (import, rotate, delete, issuers, contacts), but no
//   secret read: it cannot read a certificate's private key back.
// - Key Vault Secrets Officer: every secret operation, reads included: `az keyvault secret set` for CA PEMs and OAuth
//   client secrets, and reading any secret (so also every certificate's private key) for a local Key Vault profile
//   (func start / the standalone host under the deployer's own sign-in).
// Data access is not needed to deploy: by default (UserOnly) only a signed-in person gets these roles, not a
// pipeline's service principal (azd sets AZURE_PRINCIPAL_TYPE to User or ServicePrincipal).
resource deployerRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in (deployerGetsDataRoles(principalId, principalType, deployerKeyVaultRoles) ? [certificatesOfficer, secretsOfficer] : []): {
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
    dnsZoneName: keyVaultPrivateDnsZone(environment().suffixes.keyvaultDns)
    subnetId: privateEndpointSubnetId
    vnetId: vnetId
  }
}

// Key Vault's private-link zone is privatelink.vaultcore.<the cloud's suffix>, beside the vault's own DNS suffix
// (environment().suffixes.keyvaultDns: '.vault.azure.net', '.vault.usgovcloudapi.net', '.vault.azure.cn'), so sovereign
// clouds get theirs (DeploymentChoicesTests evaluates it for each cloud).
@export()
@description('The private DNS zone of Key Vault private endpoints for a cloud, from its Key Vault DNS suffix (environment().suffixes.keyvaultDns).')
func keyVaultPrivateDnsZone(keyvaultDns string) string => 'privatelink${replace(keyvaultDns, '.vault.', '.vaultcore.')}'

output name string = vault.name
output uri string = vault.properties.vaultUri
