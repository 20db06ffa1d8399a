// Shared shapes and the app settings that every app of the pipeline reads.
// The names mirror src/ShortcutPipeline.Core/SettingNames.cs; the infrastructure tests check that they agree.

@export()
@description('One app setting or container environment variable.')
type nameValue = {
  name: string
  value: string
}

@export()
@description('The identity-based form of the ShortcutStorage connection (StorageNames.ConnectionName) for one managed identity.')
func shortcutStorageSettings(blobServiceUri string, queueServiceUri string, tableServiceUri string, clientId string) nameValue[] => [
  { name: 'ShortcutStorage__blobServiceUri', value: blobServiceUri }
  { name: 'ShortcutStorage__queueServiceUri', value: queueServiceUri }
  { name: 'ShortcutStorage__tableServiceUri', value: tableServiceUri }
  { name: 'ShortcutStorage__credential', value: 'managedidentity' }
  { name: 'ShortcutStorage__clientId', value: clientId }
]

@export()
@description('The settings of the GPU worker and the trainer: the identity-based storage connection of their identity, Application Insights, and the port of their health server (HealthOptions, section ShortcutPipeline:Health).')
func gpuAppSettings(blobServiceUri string, queueServiceUri string, tableServiceUri string, clientId string, appInsightsConnectionString string, healthPort int) nameValue[] => concat(
  shortcutStorageSettings(blobServiceUri, queueServiceUri, tableServiceUri, clientId),
  [
    { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
    { name: 'ShortcutPipeline__Health__Port', value: string(healthPort) }
  ]
)

@export()
@description('The setting that the callback signing secret is read from (CallbackOptions.SigningSecret, section ShortcutPipeline:Callbacks).')
var callbackSigningSetting = 'ShortcutPipeline__Callbacks__SigningSecret'

@export()
@description('One Container Apps probe.')
type probe = resourceInput<'Microsoft.App/containerApps@2025-01-01'>.properties.template.containers[*].probes[*]

@export()
@description('''The worker's and the trainer's probes on their health server: GET /healthz (the process is alive) and
GET /readyz (it can take work). The startup probe holds the other two off while the host starts (the .NET host,
libtorch and the CUDA libraries load): 10 tries (Container Apps' most) 15 s apart. Liveness restarts a replica
that stops answering for 90 s; readiness marks one that is not ready.''')
func healthProbes(port int) probe[] => [
  {
    type: 'Startup'
    httpGet: { path: '/healthz', port: port }
    initialDelaySeconds: 5
    periodSeconds: 15
    timeoutSeconds: 5
    failureThreshold: 10
  }
  {
    type: 'Liveness'
    httpGet: { path: '/healthz', port: port }
    periodSeconds: 30
    timeoutSeconds: 5
    failureThreshold: 3
  }
  {
    type: 'Readiness'
    httpGet: { path: '/readyz', port: port }
    periodSeconds: 10
    timeoutSeconds: 5
    failureThreshold: 3
  }
]

@export()
@description('A role to grant one principal.')
type roleGrant = {
  @description('Object id of the principal (a managed identity, or the operator).')
  principalId: string
  @description('Role definition GUID.')
  roleDefinitionId: string
  @description('What kind of principal it is.')
  principalType: principalType
}

@export()
@description('The kinds of principal a role can be granted to.')
type principalType = 'User' | 'Group' | 'ServicePrincipal'

@export()
@description('Built-in role definition GUIDs.')
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
}

@export()
@description('What the other modules need of one user-assigned managed identity.')
type identityInfo = {
  @description('Resource id.')
  id: string
  @description('Client (application) id, for the apps\' credential settings.')
  clientId: string
  @description('Object id, for role assignments.')
  principalId: string
}
