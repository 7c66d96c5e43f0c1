// The Flex Consumption plan and function app: HTTPS only, TLS 1.2+, FTP and basic publishing off,
// identity-based storage and App Insights, TLS profiles as app settings.
import { tlsProfile, callerCertificate, callerGrant } from '../types.bicep'
import { profileSettings, callerSettings } from '../settings.bicep'

param location string
param tags object
param resourceToken string
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerUrl string
param appInsightsConnectionString string
param keyVaultUri string
param instanceMemoryMB int
param maximumInstanceCount int
param appSubnetId string
param callerCertificateMode string
@description('HTTP instances kept warm (Flex always ready): 0 scales to zero, and the first call after idle pays the cold start.')
param alwaysReadyInstances int
@description('Spread the plan\'s instances across availability zones (regions that support it for Flex).')
param zoneRedundant bool
param callerCaName string
param callerCertificates callerCertificate[]
param tlsProfiles tlsProfile[]
param callerGrants callerGrant[]

var baseSettings = [
  { name: 'AzureWebJobsStorage__accountName', value: storageAccountName }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
  { name: 'AZURE_CLIENT_ID', value: identityClientId }
]

// A certificate caller mode lists its callers: refused here, at provision, instead of at the app's start.
var callersListed = callerCertificateMode == 'KeyOnly' || !empty(callerCertificates)
  ? true
  : fail('callerCertificateMode ${callerCertificateMode} needs at least one entry in callerCertificates (CALLER_CERTIFICATES): with none, every caller would be refused and the app would not start.')

// Invoker__… settings from one place (settings.bicep; InfraTests runs the app's own check on them).
var invokerSettings = concat(
  profileSettings(tlsProfiles, keyVaultUri),
  callerSettings(callerCertificateMode, callerCaName, callerCertificates, callerGrants, keyVaultUri)
)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${resourceToken}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: 'func-invoker-${resourceToken}'
  location: location
  tags: union(tags, { 'azd-service-name': 'invoker' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Caller certificates: the front end forwards them in X-ARR-ClientCert without validating them.
    clientCertEnabled: callerCertificateMode != 'KeyOnly'
    // Asked for in the TLS handshake, never by renegotiation: no exclusion paths (with them App Service
    // renegotiates per request, which TLS 1.3 and HTTP/2 cannot do and which fails bodies over 100 KB).
    clientCertMode: callerCertificateMode == 'CertificateRequired' ? 'Required' : 'Optional'
    virtualNetworkSubnetId: empty(appSubnetId) ? null : appSubnetId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: alwaysReadyInstances > 0 ? [{ name: 'http', instanceCount: alwaysReadyInstances }] : []
      }
      runtime: {
        name: 'dotnet-isolated'
        version: '10.0'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      // Flex rejects ftpsState (error 51021); FTP is off through the ftp publishing policy below.
      // App Service asks for client certificates on HTTP/1.1 only: HTTP/2 would silently drop caller certificates.
      http20Enabled: callerCertificateMode == 'KeyOnly'
      appSettings: callersListed ? concat(baseSettings, invokerSettings) : []
    }
  }
}

resource ftp 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: { allow: false }
}

resource scm 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: { allow: false }
}

output name string = app.name
output invokeEndpoint string = 'https://${app.properties.defaultHostName}/api/invoke'
