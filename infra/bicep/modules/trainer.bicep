// The trainer: an event-triggered Container Apps job. KEDA's azure-queue scaler starts one execution
// per message on the training queue (StorageNames.TrainingQueue), authenticating with the trainer's identity.

import { identityInfo, nameValue, probe } from 'settings.bicep'

param location string
param namePrefix string
param tags object
param environmentId string
param workloadProfileName string
param identity identityInfo
param registryServer string
param image string
param cpu int
param memory string
param env nameValue[]

@description('The container\'s health probes.')
param probes probe[]
param storageAccountName string

@minValue(1)
@description('Training runs that may execute at the same time.')
param maxExecutions int

@minValue(60)
@description('Longest a training run may take, in seconds.')
param replicaTimeoutSeconds int

resource trainer 'Microsoft.App/jobs@2025-01-01' = {
  name: 'caj-${namePrefix}-trainer'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    environmentId: environmentId
    workloadProfileName: workloadProfileName
    configuration: {
      triggerType: 'Event'
      replicaTimeout: replicaTimeoutSeconds
      replicaRetryLimit: 1
      registries: [
        {
          server: registryServer
          identity: identity.id
        }
      ]
      eventTriggerConfig: {
        parallelism: 1
        replicaCompletionCount: 1
        scale: {
          minExecutions: 0
          maxExecutions: maxExecutions
          pollingInterval: 30
          rules: [
            {
              name: 'training-queue'
              type: 'azure-queue'
              metadata: {
                accountName: storageAccountName
                queueName: 'training-runs'
                queueLength: '1'
              }
              identity: identity.id
            }
          ]
        }
      }
    }
    template: {
      containers: [
        {
          name: 'trainer'
          image: image
          // One training request, then the job's execution ends.
          args: [ 'trainer', '--once' ]
          resources: {
            cpu: cpu
            memory: memory
          }
          env: env
          probes: probes
        }
      ]
    }
  }
}

output name string = trainer.name
