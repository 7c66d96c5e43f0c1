// Service Node Invoker on Azure Functions Flex Consumption, least privilege, deployed by `azd up`.
targetScope = 'subscription'

import { tlsProfile, callerCertificate, callerGrant } from 'types.bicep'

@minLength(1)
@maxLength(64)
@description('azd environment name; names and tags every resource.')
param environmentName string

@minLength(1)
@description('Azure region for all resources: one that offers Flex Consumption (az functionapp list-flexconsumption-locations).')
@metadata({ azd: { type: 'location' } })
param location string

@description('Object id of the deployer (azd sets AZURE_PRINCIPAL_ID): gets the Key Vault data roles the documented certificate steps need, as deployerKeyVaultRoles says.')
param principalId string = ''

@allowed(['', 'User', 'ServicePrincipal', 'Group'])
@description('The deployer\'s principal type (azd sets AZURE_PRINCIPAL_TYPE). Empty: left for Azure to infer, which works for users and service principals alike.')
param principalType string = ''

@allowed(['UserOnly', 'Always', 'Never'])
@description('Key Vault data roles for the deployer (Certificates Officer: import and rotate certificates; Secrets Officer: store and read secrets). UserOnly: only when a person deploys (principalType User), never to a pipeline\'s service principal, which needs no data access to deploy; Always: also a service principal (a pipeline that imports certificates itself); Never: no one.')
param deployerKeyVaultRoles string = 'UserOnly'

@minValue(0)
@maxValue(20)
@description('Flex always-ready HTTP instances: 0 scales to zero (the first call after idle pays the cold start) unless zoneRedundant is on; 1 or more keeps that many warm, billed while idle.')
param alwaysReadyInstances int = 0

@description('Spread instances across availability zones (where the region supports it for Flex Consumption). Costs at least two always-ready instances billed around the clock, whatever alwaysReadyInstances says: the platform keeps two for zone resilience.')
param zoneRedundant bool = false

@allowed([512, 2048, 4096])
@description('Flex Consumption instance memory (MB).')
param instanceMemoryMB int = 2048

@minValue(40)
@maxValue(1000)
@description('Flex Consumption maximum instance count.')
param maximumInstanceCount int = 100

@description('Integrate the app with a VNet and reach Key Vault and storage only through private endpoints; outbound leaves through a NAT gateway with one static public IP (OUTBOUND_IP_ADDRESS), for partners that allow-list source addresses. Needs the Microsoft.App resource provider (the preprovision hook registers it).')
param enableVnet bool = false

@description('VNet mode: public IP ranges (CIDR, comma-separated) that may still reach the Key Vault, so a person or pipeline can import certificates. Empty: the vault has no public access.')
param keyVaultAllowedIpRanges string = ''

@description('Email address for alerts (certificate near expiry or expired in Key Vault, handshake failures, certificates unavailable). Empty: no alerts.')
param alertEmail string = ''

@allowed(['KeyOnly', 'CertificateRequired', 'KeyOrCertificate'])
@description('How callers authenticate: function keys only, a client certificate required, or either (see docs/deploy.md).')
param callerCertificateMode string = 'KeyOnly'

@description('Name of the Key Vault certificate or PEM secret holding the root(s) caller certificates chain to (caller certificate modes).')
param callerCaName string = 'caller-root'

@description('Caller certificates: name (the caller identity used by grants) and a SHA-256 thumbprint and/or exact subject. azd: a JSON array in CALLER_CERTIFICATES.')
param callerCertificates callerCertificate[] = []

@description('TLS profiles, written as Invoker__Profiles__… app settings (every setting the app reads: see types.bicep). azd: a JSON array in TLS_PROFILES.')
param tlsProfiles tlsProfile[] = []

@description('Callers\' own grants: the profiles each may use (Invoker:Callers:Grants). azd: a JSON array in CALLER_GRANTS.')
param callerGrants callerGrant[] = []

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module resources 'modules/resources.bicep' = {
  name: 'resources'
  scope: rg
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    principalId: principalId
    principalType: principalType
    deployerKeyVaultRoles: deployerKeyVaultRoles
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    enableVnet: enableVnet
    keyVaultAllowedIpRanges: empty(keyVaultAllowedIpRanges) ? [] : map(split(keyVaultAllowedIpRanges, ','), r => trim(r))
    alertEmail: alertEmail
    callerCertificateMode: callerCertificateMode
    alwaysReadyInstances: alwaysReadyInstances
    zoneRedundant: zoneRedundant
    callerCaName: callerCaName
    callerCertificates: callerCertificates
    tlsProfiles: tlsProfiles
    callerGrants: callerGrants
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = resources.outputs.functionAppName
output SERVICE_INVOKER_NAME string = resources.outputs.functionAppName
output SERVICE_INVOKER_ENDPOINT string = resources.outputs.invokeEndpoint
output AZURE_KEY_VAULT_NAME string = resources.outputs.keyVaultName
output AZURE_KEY_VAULT_ENDPOINT string = resources.outputs.keyVaultUri
// Not AZURE_CLIENT_ID: azd writes outputs to .env, where Azure.Identity would take it as the developer's client id.
output INVOKER_IDENTITY_CLIENT_ID string = resources.outputs.identityClientId
output OUTBOUND_IP_ADDRESS string = resources.outputs.outboundIpAddress
// The operators' dashboard (Azure Monitor workbook beside Application Insights): docs/operations.md, The dashboard.
output DASHBOARD_URL string = resources.outputs.dashboardUrl
