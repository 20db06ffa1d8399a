// The GPU worker: a container app with no ingress that KEDA's azure-queue scaler sizes on the
// length of the work queue (StorageNames.WorkQueue), authenticating with the worker's identity.
// It scales to zero replicas when the queue is empty unless minReplicas says otherwise.

import { callbackSigningSetting, identityInfo, nameValue, probe } from 'settings.bicep'

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

@minValue(0)
param minReplicas int

@minValue(1)
param maxReplicas int

@minValue(1)
@description('Work items per replica that the scaler aims for.')
param queueLengthPerReplica int

@minValue(0)
@maxValue(3600)
@description('Seconds the work queue must stay empty before the last replica goes (Container Apps: 300 by default).')
param cooldownSeconds int

@description('Whether callbackSigningSecret is given (it is not empty).')
param signCallbacks bool

@description('The secret that signs the callbacks of completed and failed jobs; empty: no secret and no setting, and callbacks go out unsigned.')
@secure()
param callbackSigningSecret string

// The container app secret that holds the callback signing secret; the container reads it through secretRef only.
var callbackSecretName = 'callback-signing-secret'

resource worker 'Microsoft.App/containerApps@2025-01-01' = {
  name: 'ca-${namePrefix}-worker'
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
      activeRevisionsMode: 'Single'
      registries: [
        {
          server: registryServer
          identity: identity.id
        }
      ]
      // Only when a callback signing secret is given: otherwise the app has no secrets property at all.
      ...(signCallbacks
        ? {
            secrets: [
              {
                name: callbackSecretName
                value: callbackSigningSecret
              }
            ]
          }
        : {})
    }
    template: {
      // On SIGTERM the worker finishes its batch (ShortcutPipeline__Worker__ShutdownTimeout, 120 s by default).
      terminationGracePeriodSeconds: 150
      containers: [
        {
          name: 'worker'
          image: image
          args: [ 'worker' ]
          resources: {
            cpu: cpu
            memory: memory
          }
          env: concat(env, signCallbacks ? [{ name: callbackSigningSetting, secretRef: callbackSecretName }] : [])
          probes: probes
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        cooldownPeriod: cooldownSeconds
        rules: [
          {
            name: 'work-queue'
            azureQueue: {
              accountName: storageAccountName
              queueName: 'generation-work'
              queueLength: queueLengthPerReplica
              identity: identity.id
            }
          }
        ]
      }
    }
  }
}

output name string = worker.name
