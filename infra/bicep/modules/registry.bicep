// The container registry for the GPU image (the worker app and the trainer job); the apps pull with their identities (AcrPull).

import { roles } from 'settings.bicep'

param location string
param namePrefix string
param tags object

@description('Object ids of the identities that pull images.')
param pullPrincipalIds string[]

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: 'cr${namePrefix}${uniqueString(resourceGroup().id)}'
  location: location
  tags: tags
  sku: {
    name: 'Basic'
  }
  properties: {
    adminUserEnabled: false
  }
}

resource acrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for principalId in pullPrincipalIds: {
  scope: registry
  name: guid(registry.id, principalId, roles.acrPull)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
  }
}]

output name string = registry.name
output loginServer string = registry.properties.loginServer
