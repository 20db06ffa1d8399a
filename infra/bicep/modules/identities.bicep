// One user-assigned managed identity per app: the functions, the GPU worker and the trainer job.

import { identityInfo } from 'settings.bicep'

param location string
param namePrefix string
param tags object

resource functions 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${namePrefix}-functions'
  location: location
  tags: tags
}

resource worker 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${namePrefix}-worker'
  location: location
  tags: tags
}

resource trainer 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${namePrefix}-trainer'
  location: location
  tags: tags
}

output functions identityInfo = {
  id: functions.id
  clientId: functions.properties.clientId
  principalId: functions.properties.principalId
}

output worker identityInfo = {
  id: worker.id
  clientId: worker.properties.clientId
  principalId: worker.properties.principalId
}

output trainer identityInfo = {
  id: trainer.id
  clientId: trainer.properties.clientId
  principalId: trainer.properties.principalId
}
