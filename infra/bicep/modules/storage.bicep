// The pipeline's Storage account: its queues (with their poison queues), blob containers and tables,
// and the data-plane roles of the apps' identities. Shared-key access is off: every client uses Entra ID.
// The names mirror src/ShortcutPipeline.Core/StorageNames.cs; the infrastructure tests check that they agree.

import { roleGrant } from 'settings.bicep'

param location string
param namePrefix string
param tags object

@description('Data-plane roles to grant on the account.')
param roleGrants roleGrant[]

@description('Blob container that holds the Functions app package (Flex Consumption deployment storage).')
param functionsPackageContainerName string

var queueNames = [
  'generation-jobs'
  'generation-jobs-poison'
  'generation-work'
  'generation-work-poison'
  'training-runs'
  'training-runs-poison'
]

var containerNames = [
  'images'
  'checkpoints'
  'datasets'
  functionsPackageContainerName
]

var tableNames = [
  'jobs'
  'runs'
]

resource account 'Microsoft.Storage/storageAccounts@2024-01-01' = {
  name: take('st${namePrefix}${uniqueString(resourceGroup().id)}', 24)
  location: location
  tags: tags
  sku: {
    name: 'Standard_LRS'
  }
  kind: 'StorageV2'
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
  parent: account
  name: 'default'
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2024-01-01' = {
  parent: account
  name: 'default'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2024-01-01' = {
  parent: account
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = [for name in containerNames: {
  parent: blobService
  name: name
  properties: {
    publicAccess: 'None'
  }
}]

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2024-01-01' = [for name in queueNames: {
  parent: queueService
  name: name
}]

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2024-01-01' = [for name in tableNames: {
  parent: tableService
  name: name
}]

resource roleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for grant in roleGrants: {
  scope: account
  name: guid(account.id, grant.principalId, grant.roleDefinitionId)
  properties: {
    principalId: grant.principalId
    principalType: grant.principalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', grant.roleDefinitionId)
  }
}]

output accountName string = account.name
output blobServiceUri string = account.properties.primaryEndpoints.blob
output queueServiceUri string = account.properties.primaryEndpoints.queue
output tableServiceUri string = account.properties.primaryEndpoints.table
