// Storage for AzureWebJobsStorage and the deployment package: shared keys off, identity access only.
param location string
param tags object
@description('uniqueString() of the subscription, environment and location: 13 characters.')
@minLength(13)
@maxLength(13)
param resourceToken string
param identityPrincipalId string
param enableVnet bool
param privateEndpointSubnetId string
param vnetId string

var blobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var deploymentContainerName = 'app-package-${take(resourceToken, 7)}'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'st${resourceToken}'
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: enableVnet ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: enableVnet ? 'Deny' : 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: { publicAccess: 'None' }
}

// Storage Blob Data Owner (app): the deployment package and the host's blobs (keys, leases). An HTTP-only
// app uses no queues or tables, so it gets no role on them and VNet mode makes no endpoints for them.
resource blobRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, identityPrincipalId, blobDataOwner)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataOwner)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

module endpoints 'private-endpoint.bicep' = [
  for service in (enableVnet ? ['blob'] : []): {
    name: 'pe-storage-${service}'
    params: {
      location: location
      tags: tags
      name: 'pe-${account.name}-${service}'
      resourceId: account.id
      groupId: service
      dnsZoneName: 'privatelink.${service}.${environment().suffixes.storage}'
      subnetId: privateEndpointSubnetId
      vnetId: vnetId
    }
  }
]

output name string = account.name
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deploymentContainerName}'
