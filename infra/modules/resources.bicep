// Everything in the resource group. One user-assigned identity is used for storage, Key Vault and App Insights.
import { tlsProfile, callerCertificate, callerGrant } from '../types.bicep'

param location string
param tags object
param resourceToken string
param principalId string
param principalType string
param deployerKeyVaultRoles string
param instanceMemoryMB int
param maximumInstanceCount int
param enableVnet bool
param keyVaultAllowedIpRanges string[]
param alertEmail string
param callerCertificateMode string
param alwaysReadyInstances int
param zoneRedundant bool
param callerCaName string
param callerCertificates callerCertificate[]
param tlsProfiles tlsProfile[]
param callerGrants callerGrant[]

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-invoker-${resourceToken}'
  location: location
  tags: tags
}

module network 'network.bicep' = if (enableVnet) {
  name: 'network'
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
  }
}

module monitoring 'monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    identityPrincipalId: identity.properties.principalId
  }
}

module dashboard 'workbook.bicep' = {
  name: 'dashboard'
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    appInsightsId: monitoring.outputs.appInsightsId
  }
}

module storage 'storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    identityPrincipalId: identity.properties.principalId
    enableVnet: enableVnet
    privateEndpointSubnetId: enableVnet ? network!.outputs.privateEndpointSubnetId : ''
    vnetId: enableVnet ? network!.outputs.vnetId : ''
  }
}

module keyVault 'keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    identityPrincipalId: identity.properties.principalId
    principalId: principalId
    principalType: principalType
    deployerKeyVaultRoles: deployerKeyVaultRoles
    enableVnet: enableVnet
    allowedIpRanges: keyVaultAllowedIpRanges
    workspaceId: monitoring.outputs.workspaceId
    privateEndpointSubnetId: enableVnet ? network!.outputs.privateEndpointSubnetId : ''
    vnetId: enableVnet ? network!.outputs.vnetId : ''
  }
}

module alerts 'alerts.bicep' = if (!empty(alertEmail)) {
  name: 'alerts'
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    alertEmail: alertEmail
    keyVaultName: keyVault.outputs.name
    appInsightsId: monitoring.outputs.appInsightsId
  }
}

module functionApp 'functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    tags: tags
    resourceToken: resourceToken
    identityId: identity.id
    identityClientId: identity.properties.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    appInsightsConnectionString: monitoring.outputs.connectionString
    keyVaultUri: keyVault.outputs.uri
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    appSubnetId: enableVnet ? network!.outputs.appSubnetId : ''
    callerCertificateMode: callerCertificateMode
    alwaysReadyInstances: alwaysReadyInstances
    zoneRedundant: zoneRedundant
    callerCaName: callerCaName
    callerCertificates: callerCertificates
    tlsProfiles: tlsProfiles
    callerGrants: callerGrants
  }
}

output functionAppName string = functionApp.outputs.name
output invokeEndpoint string = functionApp.outputs.invokeEndpoint
output keyVaultName string = keyVault.outputs.name
output keyVaultUri string = keyVault.outputs.uri
output identityClientId string = identity.properties.clientId
output outboundIpAddress string = enableVnet ? network!.outputs.natIpAddress : ''

output dashboardUrl string = dashboard.outputs.url
