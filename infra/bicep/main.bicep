// ShortcutPipeline on Azure: Storage (queues, containers, tables), the Functions app (Flex Consumption,
// dotnet-isolated), a Container Apps environment with a serverless GPU profile, the GPU worker (KEDA
// azure-queue scaling on the work queue), the trainer (event-triggered job on the training queue), a
// container registry, one user-assigned identity per app with its roles, Log Analytics and Application Insights.
// Deploy into an existing resource group: see infra/README.md. Local modules only (no registry modules).

targetScope = 'resourceGroup'

import { roles, roleGrant, principalType, gpuAppSettings, healthProbes } from 'modules/settings.bicep'

@description('Azure region of every resource. Serverless GPUs exist in a subset of regions.')
param location string = resourceGroup().location

@minLength(3)
@maxLength(10)
@description('Short lowercase prefix (letters and digits) of every resource name.')
param namePrefix string = 'shortcut'

@allowed([
  'A100'
  'T4'
])
@description('The serverless GPU that the worker and the trainer run on.')
param gpuType string = 'T4'

@minValue(0)
@description('Fewest worker replicas; 0 lets the worker scale to zero when the work queue is empty.')
param workerMinReplicas int = 0

@minValue(1)
@maxValue(100)
@description('Most worker replicas.')
param workerMaxReplicas int = 4

@minValue(1)
@description('Work items per worker replica that the queue scaler aims for.')
param workerQueueLengthPerReplica int = 16

@minValue(0)
@maxValue(3600)
@description('Seconds the work queue must stay empty before the last worker replica (a GPU) goes; Container Apps\' own default is 300.')
param workerCooldownSeconds int = 120

@minValue(1)
@description('Training runs that may execute at the same time.')
param trainerMaxExecutions int = 1

@minValue(60)
@description('Longest a training run may take, in seconds.')
param trainerTimeoutSeconds int = 14400

@minValue(1)
@maxValue(1000)
@description('Most instances of the Functions app.')
param functionsMaximumInstanceCount int = 40

@description('The .NET version of the Functions app\'s isolated worker.')
param functionsDotnetVersion string = '10.0'

@description('NCRONTAB schedule (six fields, seconds first) of the training timer function (app setting Training__Schedule).')
param trainingSchedule string = '0 0 3 * * *'

@description('How long after a model\'s last successful training run a new one is due, as a TimeSpan (Training__Interval).')
param trainingInterval string = '7.00:00:00'

@description('The training request (JSON without a runId) the timer launches (Training__Request); empty: none. The default trains on the Fashion-MNIST IDX files uploaded to datasets/fashion-mnist/.')
param trainingRequest string = '{"model":"fashion","preset":"DiT-Small/4","dataset":"blob:fashion-mnist","steps":20000,"batchSize":128,"checkpointEvery":1000}'

@description('Tag of the GPU image (shortcut: the worker app and the trainer job) in the registry (see infra/README.md for building it).')
param imageTag string = 'latest'

@description('False on the first deployment, before the image exists in the new registry; true afterwards.')
param deployContainerApps bool = true

@description('Object id of the operator (`az ad signed-in-user show --query id -o tsv`), who gets Storage Blob, Queue and Table Data Contributor on the storage account: shared keys are off, so the CLI and dataset uploads need them. Empty: nobody.')
param operatorPrincipalId string = ''

@description('What operatorPrincipalId is: User, Group or ServicePrincipal.')
param operatorPrincipalType principalType = 'User'

@description('The secret that signs job callbacks (HMAC-SHA256, ShortcutPipeline__Callbacks__SigningSecret); receivers verify them with the same one. The Functions app (cancelled jobs) gets it as an app setting, the worker (completed and failed jobs) as a container app secret; the trainer sends no callbacks. Empty: neither is created, callbacks go out unsigned and the apps log a warning.')
@secure()
param callbackSigningSecret string = ''

param tags object = {
  application: 'shortcut-pipeline'
}

var gpuProfiles = {
  A100: {
    workloadProfileType: 'Consumption-GPU-NC24-A100'
    cpu: 24
    memory: '220Gi'
  }
  T4: {
    workloadProfileType: 'Consumption-GPU-NC8as-T4'
    cpu: 8
    memory: '56Gi'
  }
}
var gpu = gpuProfiles[gpuType]
var functionsPackageContainerName = 'functions-package'

// The port of the worker's and the trainer's health server (ShortcutPipeline__Health__Port), which the probes call.
var healthPort = 8080

// Bicep has no pattern decorator, so the prefix's characters are checked here, as Terraform's validation does.
// A bad prefix stops the deployment while the template is validated, before anything is created: int() of the
// message fails, and Resource Manager's error quotes it.
var namePrefixCharacters = 'abcdefghijklmnopqrstuvwxyz0123456789'
var namePrefixOtherCharacters = filter(map(range(0, length(namePrefix)), i => substring(namePrefix, i, 1)), c => !contains(namePrefixCharacters, c))
var prefix = empty(namePrefixOtherCharacters) ? namePrefix : string(int('namePrefix \'${namePrefix}\' must be 3 to 10 lowercase letters or digits'))

// Whether callbacks are signed: no secret, and given to the modules besides the secret. Expressions of a secure module
// parameter are never evaluated by `bicep snapshot` (which the tests compare), not even when it is empty.
var signCallbacks = !empty(callbackSigningSecret)

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    namePrefix: prefix
    tags: tags
  }
}

module identities 'modules/identities.bicep' = {
  name: 'identities'
  params: {
    location: location
    namePrefix: prefix
    tags: tags
  }
}

var operatorDataRoles = [
  roles.storageBlobDataContributor
  roles.storageQueueDataContributor
  roles.storageTableDataContributor
]

var storageRoleGrants roleGrant[] = concat([
  { principalId: identities.outputs.functions.principalId, roleDefinitionId: roles.storageBlobDataOwner, principalType: 'ServicePrincipal' }
  { principalId: identities.outputs.functions.principalId, roleDefinitionId: roles.storageQueueDataContributor, principalType: 'ServicePrincipal' }
  { principalId: identities.outputs.functions.principalId, roleDefinitionId: roles.storageTableDataContributor, principalType: 'ServicePrincipal' }
  { principalId: identities.outputs.worker.principalId, roleDefinitionId: roles.storageBlobDataContributor, principalType: 'ServicePrincipal' }
  { principalId: identities.outputs.worker.principalId, roleDefinitionId: roles.storageQueueDataContributor, principalType: 'ServicePrincipal' }
  { principalId: identities.outputs.worker.principalId, roleDefinitionId: roles.storageTableDataContributor, principalType: 'ServicePrincipal' }
  { principalId: identities.outputs.trainer.principalId, roleDefinitionId: roles.storageBlobDataContributor, principalType: 'ServicePrincipal' }
  { principalId: identities.outputs.trainer.principalId, roleDefinitionId: roles.storageQueueDataContributor, principalType: 'ServicePrincipal' }
  { principalId: identities.outputs.trainer.principalId, roleDefinitionId: roles.storageTableDataContributor, principalType: 'ServicePrincipal' }
], empty(operatorPrincipalId) ? [] : map(operatorDataRoles, role => { principalId: operatorPrincipalId, roleDefinitionId: role, principalType: operatorPrincipalType }))

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    namePrefix: prefix
    tags: tags
    roleGrants: storageRoleGrants
    functionsPackageContainerName: functionsPackageContainerName
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  params: {
    location: location
    namePrefix: prefix
    tags: tags
    pullPrincipalIds: [
      identities.outputs.worker.principalId
      identities.outputs.trainer.principalId
    ]
  }
}

module functions 'modules/functions.bicep' = {
  name: 'functions'
  params: {
    location: location
    namePrefix: prefix
    tags: tags
    identity: identities.outputs.functions
    blobServiceUri: storage.outputs.blobServiceUri
    queueServiceUri: storage.outputs.queueServiceUri
    tableServiceUri: storage.outputs.tableServiceUri
    packageContainerName: functionsPackageContainerName
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    maximumInstanceCount: functionsMaximumInstanceCount
    dotnetVersion: functionsDotnetVersion
    trainingSchedule: trainingSchedule
    trainingInterval: trainingInterval
    trainingRequest: trainingRequest
    signCallbacks: signCallbacks
    callbackSigningSecret: callbackSigningSecret
  }
}

module containerEnvironment 'modules/containerEnvironment.bicep' = {
  name: 'container-environment'
  params: {
    location: location
    namePrefix: prefix
    tags: tags
    logAnalyticsWorkspaceName: monitoring.outputs.workspaceName
    gpuProfileType: gpu.workloadProfileType
  }
}

module worker 'modules/worker.bicep' = if (deployContainerApps) {
  name: 'worker'
  params: {
    location: location
    namePrefix: prefix
    tags: tags
    environmentId: containerEnvironment.outputs.id
    workloadProfileName: containerEnvironment.outputs.gpuProfileName
    identity: identities.outputs.worker
    registryServer: registry.outputs.loginServer
    image: '${registry.outputs.loginServer}/shortcut:${imageTag}'
    cpu: gpu.cpu
    memory: gpu.memory
    storageAccountName: storage.outputs.accountName
    minReplicas: workerMinReplicas
    maxReplicas: workerMaxReplicas
    queueLengthPerReplica: workerQueueLengthPerReplica
    cooldownSeconds: workerCooldownSeconds
    signCallbacks: signCallbacks
    callbackSigningSecret: callbackSigningSecret
    env: gpuAppSettings(storage.outputs.blobServiceUri, storage.outputs.queueServiceUri, storage.outputs.tableServiceUri, identities.outputs.worker.clientId, monitoring.outputs.appInsightsConnectionString, healthPort)
    probes: healthProbes(healthPort)
  }
}

// The trainer sends no callbacks: it gets no callbackSigningSecret.
module trainer 'modules/trainer.bicep' = if (deployContainerApps) {
  name: 'trainer'
  params: {
    location: location
    namePrefix: prefix
    tags: tags
    environmentId: containerEnvironment.outputs.id
    workloadProfileName: containerEnvironment.outputs.gpuProfileName
    identity: identities.outputs.trainer
    registryServer: registry.outputs.loginServer
    image: '${registry.outputs.loginServer}/shortcut:${imageTag}'
    cpu: gpu.cpu
    memory: gpu.memory
    storageAccountName: storage.outputs.accountName
    maxExecutions: trainerMaxExecutions
    replicaTimeoutSeconds: trainerTimeoutSeconds
    env: gpuAppSettings(storage.outputs.blobServiceUri, storage.outputs.queueServiceUri, storage.outputs.tableServiceUri, identities.outputs.trainer.clientId, monitoring.outputs.appInsightsConnectionString, healthPort)
    probes: healthProbes(healthPort)
  }
}

output storageAccountName string = storage.outputs.accountName
output blobServiceUri string = storage.outputs.blobServiceUri
output queueServiceUri string = storage.outputs.queueServiceUri
output tableServiceUri string = storage.outputs.tableServiceUri
output registryName string = registry.outputs.name
output registryLoginServer string = registry.outputs.loginServer
output functionAppName string = functions.outputs.name
output functionAppHostName string = functions.outputs.defaultHostName
